"""Shared httpx plumbing: map transport errors and status codes onto provider errors."""

from __future__ import annotations

from typing import Any

import httpx

from ludus.paya.adapters.base import ProviderRejected, ProviderUnavailable


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"{method} {url}: {type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(f"{method} {url}: HTTP {response.status_code}")
    if response.status_code >= 400:
        code, message = _error_of(response)
        raise ProviderRejected(message, code=code)
    return response


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP_{response.status_code}", response.text[:200]
    if not isinstance(body, dict):
        return f"HTTP_{response.status_code}", str(body)[:200]
    code = body.get("error_code") or body.get("code") or f"HTTP_{response.status_code}"
    message = body.get("error_message") or body.get("message") or ""
    return str(code), str(message)


def last_path_segment(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
