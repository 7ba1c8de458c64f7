"""Dwolla over HTTP (HAL+JSON): OAuth client-credentials token, customers, funding sources,
transfers with Idempotency-Key, transfer status. Created resources come back as a Location
header; their id is its last path segment."""

from __future__ import annotations

import time
from typing import Any

import httpx

from ludus.paya.adapters.base import ProviderRejected, TransferStatus
from ludus.paya.adapters.http import last_path_segment, send

HAL = "application/vnd.dwolla.v1.hal+json"
_STATUSES = {
    "pending": TransferStatus.pending,
    "processed": TransferStatus.processed,
    "failed": TransferStatus.failed,
    "cancelled": TransferStatus.cancelled,
}


class HttpDwolla:
    name = "dwolla"

    def __init__(
        self,
        base_url: str,
        key: str,
        secret: str,
        *,
        fbo_funding_source: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.secret = secret
        self.fbo_funding_source = fbo_funding_source
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._token: str | None = None
        self._token_expires = 0.0

    async def _auth(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._token_expires:
            response = await send(
                self.client,
                "POST",
                "/token",
                data={"grant_type": "client_credentials"},
                auth=(self.key, self.secret),
            )
            data = response.json()
            self._token = str(data["access_token"])
            self._token_expires = time.monotonic() + max(0, int(data.get("expires_in", 3600)) - 60)
        return {"Authorization": f"Bearer {self._token}", "Accept": HAL}

    async def _create(self, path: str, body: dict[str, Any], key: str | None = None) -> str:
        headers = {**(await self._auth()), "Content-Type": HAL}
        if key:
            headers["Idempotency-Key"] = key
        response = await send(self.client, "POST", path, json=body, headers=headers)
        location = response.headers.get("location")
        if not location:
            raise ProviderRejected("no Location in response", code="BAD_RESPONSE")
        return last_path_segment(location)

    def _href(self, kind: str, ident: str) -> dict[str, str]:
        return {"href": f"{self.base_url}/{kind}/{ident}"}

    async def create_customer(
        self, *, first_name: str, last_name: str, email: str, correlation_id: str
    ) -> str:
        body = {
            "firstName": first_name,
            "lastName": last_name,
            "email": email,
            "type": "receive-only",
            "correlationId": correlation_id,
        }
        return await self._create("/customers", body, key=f"customer-{correlation_id}")

    async def create_funding_source(
        self, customer_id: str, *, processor_token: str, name: str
    ) -> str:
        body = {"plaidToken": processor_token, "name": name}
        return await self._create(f"/customers/{customer_id}/funding-sources", body)

    async def initiate_transfer(
        self, *, source: str, destination: str, amount: int, idempotency_key: str
    ) -> str:
        body = {
            "_links": {
                "source": self._href("funding-sources", source),
                "destination": self._href("funding-sources", destination),
            },
            "amount": {"currency": "USD", "value": f"{amount}.00"},
        }
        return await self._create("/transfers", body, key=idempotency_key)

    async def get_transfer_status(self, transfer_id: str) -> TransferStatus:
        response = await send(
            self.client, "GET", f"/transfers/{transfer_id}", headers=await self._auth()
        )
        data = response.json()
        status = _STATUSES.get(str(data.get("status")))
        if status is None:
            raise ProviderRejected(f"unknown status {data.get('status')!r}", code="BAD_RESPONSE")
        # A processed pull that the bank later returns shows up as failed with an ACH code.
        if status == TransferStatus.failed and data.get("achReturnCode"):
            return TransferStatus.returned
        return status

    async def aclose(self) -> None:
        await self.client.aclose()
