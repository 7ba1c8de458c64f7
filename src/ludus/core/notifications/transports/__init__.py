"""Real delivery transports: SMTP, Twilio (SMS, WhatsApp), Africa's Talking (SMS), FCM."""

from __future__ import annotations

import httpx

from ludus.core.notifications.providers import ProviderError


def raise_for_http(provider: str, response: httpx.Response) -> None:
    """Map an HTTP failure to a provider error: 429 and 5xx are worth retrying, other 4xx not."""
    if response.is_success:
        return
    status = response.status_code
    transient = status == 429 or status >= 500
    raise ProviderError(f"{provider} HTTP {status}: {response.text[:300]}", permanent=not transient)


async def post(provider: str, url: str, **kwargs: object) -> httpx.Response:
    """POST with the configured timeout; network failures are transient provider errors."""
    timeout = kwargs.pop("timeout", 10.0)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:  # type: ignore[arg-type]
            response = await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise ProviderError(f"{provider} unreachable: {type(exc).__name__}: {exc}") from exc
    raise_for_http(provider, response)
    return response
