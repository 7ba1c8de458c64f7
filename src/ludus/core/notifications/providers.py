"""Provider interface and selection. The sandbox provider (default) delivers nothing: the
stored message is the record tests, the CLI and the admin endpoint read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from ludus.core.kit.settings import get_settings
from ludus.core.notifications import config
from ludus.core.notifications.models import Channel
from ludus.core.tenancy.models import Tenant


@dataclass(frozen=True)
class OutgoingMessage:
    channel: Channel
    recipient: str
    subject: str | None
    body: str
    html: str | None = None  # email: the HTML part; `body` is then its plain-text alternative
    reference: str | None = None  # our message id, echoed where the provider allows
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_message_id: str


class ProviderError(Exception):
    """A send that did not go through. Permanent errors (bad number, bad token) are not
    retried; transient ones (timeouts, 5xx, 429) are."""

    def __init__(
        self, message: str, *, permanent: bool = False, bad_recipient: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or bad_recipient
        # The address itself is dead (an unregistered push token): stop using it.
        self.bad_recipient = bad_recipient


class Provider(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> SendResult: ...


class SandboxProvider:
    name = "sandbox"

    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(self.name, f"sbx_{uuid.uuid4().hex}")


class InAppProvider:
    """In-app messages are delivered by being stored (and announced on the live stream)."""

    name = "in_app"

    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(self.name, message.reference or uuid.uuid4().hex)


_providers: dict[Channel, Provider] = {}


def provider_for(channel: Channel) -> Provider:
    """The process-wide override for `channel`, else the sandbox (no tenant context)."""
    return _providers.get(channel) or SandboxProvider()


def set_provider(channel: Channel, provider: Provider | None) -> None:
    """Force one provider for a channel in this process (tests, demos); None clears it."""
    if provider is None:
        _providers.pop(channel, None)
    else:
        _providers[channel] = provider


def callback_url(provider: str, tenant: Tenant) -> str:
    base = get_settings().public_base_url.rstrip("/")
    return f"{base}/api/v1/notifications/callbacks/{provider}/{tenant.slug}"


def build_provider(tenant: Tenant | None, channel: Channel) -> Provider:
    """The provider a tenant's message on `channel` goes through."""
    override = _providers.get(channel)
    if override is not None:
        return override
    name = config.provider_name(tenant, channel)
    if name == "in_app":
        return InAppProvider()
    if name == "sandbox":
        return SandboxProvider()
    settings = config.provider_config(tenant, name)
    if name == "smtp":
        from ludus.core.notifications.transports.smtp import SmtpProvider

        return SmtpProvider(settings)
    if name == "twilio":
        from ludus.core.notifications.transports.twilio import TwilioProvider

        status_url = callback_url("twilio", tenant) if tenant is not None else None
        return TwilioProvider(settings, status_callback=status_url)
    if name == "africastalking":
        from ludus.core.notifications.transports.africastalking import AfricasTalkingProvider

        return AfricasTalkingProvider(settings)
    if name == "fcm":
        from ludus.core.notifications.transports.fcm import FcmProvider

        return FcmProvider(settings)
    raise ProviderError(f"unknown provider {name!r} for {channel.value}", permanent=True)
