"""Africa's Talking bulk SMS API."""

from __future__ import annotations

from typing import Any

from ludus.core.notifications.providers import OutgoingMessage, ProviderError, SendResult
from ludus.core.notifications.transports import post

# Per-recipient status codes meaning the message was accepted (Processed, Sent, Queued).
ACCEPTED = frozenset({100, 101, 102})
# Worth another try later: insufficient balance, gateway and internal errors.
TRANSIENT = frozenset({405, 500, 501, 502})


class AfricasTalkingProvider:
    name = "africastalking"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.username = settings.get("username")
        self.api_key = settings.get("api_key")
        self.sender = settings.get("from")
        self.base_url = str(settings.get("base_url") or "https://api.africastalking.com")
        self.timeout = float(settings.get("timeout") or 10.0)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not (self.username and self.api_key):
            raise ProviderError("africastalking username/api_key not configured", permanent=True)
        form = {"username": str(self.username), "to": message.recipient, "message": message.body}
        if self.sender:
            form["from"] = str(self.sender)
        response = await post(
            self.name,
            f"{self.base_url.rstrip('/')}/version1/messaging",
            data=form,
            headers={"apiKey": str(self.api_key), "Accept": "application/json"},
            timeout=self.timeout,
        )
        recipients = (response.json().get("SMSMessageData") or {}).get("Recipients") or []
        if not recipients:
            raise ProviderError(f"africastalking refused: {response.text[:300]}", permanent=True)
        first = recipients[0]
        code = int(first.get("statusCode", 0))
        if code not in ACCEPTED:
            raise ProviderError(
                f"africastalking {code}: {first.get('status')}", permanent=code not in TRANSIENT
            )
        return SendResult(self.name, str(first.get("messageId")))
