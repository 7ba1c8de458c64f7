"""Twilio Programmable Messaging: SMS and WhatsApp through the Messages resource."""

from __future__ import annotations

from typing import Any

from ludus.core.notifications.models import Channel
from ludus.core.notifications.providers import OutgoingMessage, ProviderError, SendResult
from ludus.core.notifications.transports import post


class TwilioProvider:
    name = "twilio"

    def __init__(self, settings: dict[str, Any], *, status_callback: str | None = None) -> None:
        self.account_sid = settings.get("account_sid")
        self.auth_token = settings.get("auth_token")
        self.sender = settings.get("from")
        self.whatsapp_sender = settings.get("whatsapp_from") or self.sender
        self.base_url = str(settings.get("base_url") or "https://api.twilio.com").rstrip("/")
        self.timeout = float(settings.get("timeout") or 10.0)
        self.status_callback = status_callback

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not (self.account_sid and self.auth_token):
            raise ProviderError("twilio account_sid/auth_token not configured", permanent=True)
        to, sender = message.recipient, self.sender
        if message.channel == Channel.whatsapp:
            to, sender = f"whatsapp:{to}", f"whatsapp:{self.whatsapp_sender}"
        if not sender:
            raise ProviderError("twilio sender number not configured", permanent=True)
        form = {"To": to, "From": str(sender), "Body": message.body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        response = await post(
            self.name,
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            data=form,
            auth=(str(self.account_sid), str(self.auth_token)),
            timeout=self.timeout,
        )
        sid = response.json().get("sid")
        if not sid:
            raise ProviderError("twilio response has no sid")
        return SendResult(self.name, str(sid))
