"""Provider interface. The sandbox provider (default) delivers nothing: the stored message is
the record tests and the demo read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from ludus.core.notifications.models import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    channel: Channel
    recipient: str
    subject: str | None
    body: str


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_message_id: str


class Provider(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> SendResult: ...


class SandboxProvider:
    name = "sandbox"

    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(self.name, f"sbx_{uuid.uuid4().hex}")


_providers: dict[Channel, Provider] = {}


def provider_for(channel: Channel) -> Provider:
    return _providers.get(channel) or SandboxProvider()


def set_provider(channel: Channel, provider: Provider | None) -> None:
    if provider is None:
        _providers.pop(channel, None)
    else:
        _providers[channel] = provider
