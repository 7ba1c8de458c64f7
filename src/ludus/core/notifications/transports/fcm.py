"""Firebase Cloud Messaging, HTTP v1 API. The OAuth access token comes from a pluggable token
provider: a fixed token, or a Google service account exchanged for a token (cached)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

import jwt

from ludus.core.notifications.providers import OutgoingMessage, ProviderError, SendResult
from ludus.core.notifications.transports import post

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class TokenProvider(Protocol):
    async def access_token(self) -> str: ...


class StaticTokenProvider:
    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self) -> str:
        return self.token


class ServiceAccountTokenProvider:
    """Signs a JWT with the service account key and trades it for an access token."""

    def __init__(self, account: dict[str, Any], *, timeout: float = 10.0) -> None:
        self.account = account
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0

    async def access_token(self) -> str:
        if self._token and time.time() < self._expires_at - 60:
            return self._token
        now = int(time.time())
        token_uri = str(self.account.get("token_uri") or "https://oauth2.googleapis.com/token")
        assertion = jwt.encode(
            {
                "iss": self.account["client_email"],
                "scope": FCM_SCOPE,
                "aud": token_uri,
                "iat": now,
                "exp": now + 3600,
            },
            self.account["private_key"],
            algorithm="RS256",
        )
        response = await post(
            "fcm-oauth",
            token_uri,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
            timeout=self.timeout,
        )
        body = response.json()
        self._token = str(body["access_token"])
        self._expires_at = now + float(body.get("expires_in", 3600))
        return self._token


_token_provider: TokenProvider | None = None


def set_token_provider(provider: TokenProvider | None) -> None:
    """Use this token provider for every FCM send in the process (None: from config)."""
    global _token_provider
    _token_provider = provider


_account_cache: dict[str, ServiceAccountTokenProvider] = {}


def token_provider_from(settings: dict[str, Any]) -> TokenProvider:
    if _token_provider is not None:
        return _token_provider
    if settings.get("access_token"):
        return StaticTokenProvider(str(settings["access_token"]))
    path = settings.get("service_account_file")
    if path:
        cached = _account_cache.get(str(path))
        if cached is None:
            account = json.loads(Path(str(path)).read_text())
            cached = _account_cache[str(path)] = ServiceAccountTokenProvider(account)
        return cached
    raise ProviderError("fcm credentials not configured", permanent=True)


class FcmProvider:
    name = "fcm"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.project_id = settings.get("project_id")
        self.base_url = str(settings.get("base_url") or "https://fcm.googleapis.com").rstrip("/")
        self.timeout = float(settings.get("timeout") or 10.0)

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        data = {str(k): str(v) for k, v in message.data.items()}
        if message.reference:
            data["message_id"] = message.reference
        body: dict[str, Any] = {
            "token": message.recipient,
            "notification": {"title": message.subject or "", "body": message.body},
        }
        if data:
            body["data"] = data
        return {"message": body}

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not self.project_id:
            raise ProviderError("fcm project_id not configured", permanent=True)
        token = await token_provider_from(self.settings).access_token()
        try:
            response = await post(
                self.name,
                f"{self.base_url}/v1/projects/{self.project_id}/messages:send",
                json=self.payload(message),
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except ProviderError as exc:
            # FCM's error code for a token the app has dropped; other 404s (a wrong project)
            # must not cost every device.
            if "UNREGISTERED" in str(exc):
                raise ProviderError(str(exc), bad_recipient=True) from exc
            raise
        name = response.json().get("name")
        if not name:
            raise ProviderError("fcm response has no message name")
        return SendResult(self.name, str(name).rsplit("/", 1)[-1])
