"""Plaid over HTTP: link token, public-token exchange, accounts, identity, Dwolla processor
token. Every call is a JSON POST carrying client_id and secret in the body."""

from __future__ import annotations

from typing import Any

import httpx

from ludus.paya.adapters.base import BankAccount, ExchangeResult, Identity, ProviderRejected
from ludus.paya.adapters.http import send


class HttpPlaid:
    name = "plaid"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"client_id": self.client_id, "secret": self.secret, **payload}
        response = await send(self.client, "POST", path, json=body)
        data = response.json()
        if not isinstance(data, dict):
            raise ProviderRejected("unexpected response", code="BAD_RESPONSE")
        return data

    async def create_link_token(self, client_user_id: str) -> str:
        data = await self._post(
            "/link/token/create",
            {
                "client_name": "PaYa",
                "user": {"client_user_id": client_user_id},
                "products": ["auth", "identity"],
                "country_codes": ["US"],
                "language": "en",
            },
        )
        return str(data["link_token"])

    async def exchange_public_token(self, public_token: str) -> ExchangeResult:
        data = await self._post("/item/public_token/exchange", {"public_token": public_token})
        return ExchangeResult(access_token=str(data["access_token"]), item_id=str(data["item_id"]))

    async def get_accounts(self, access_token: str) -> list[BankAccount]:
        data = await self._post("/accounts/get", {"access_token": access_token})
        return [
            BankAccount(
                account_id=str(a["account_id"]),
                name=str(a.get("name") or ""),
                mask=str(a.get("mask") or ""),
                type=str(a.get("type") or ""),
                subtype=str(a.get("subtype") or ""),
            )
            for a in data.get("accounts", [])
        ]

    async def get_identity(self, access_token: str) -> Identity:
        data = await self._post("/identity/get", {"access_token": access_token})
        names: list[str] = []
        emails: list[str] = []
        phones: list[str] = []
        for account in data.get("accounts", []):
            for owner in account.get("owners", []):
                names += [n for n in owner.get("names", []) if n not in names]
                emails += [e["data"] for e in owner.get("emails", []) if e["data"] not in emails]
                phones += [p["data"] for p in owner.get("phone_numbers", [])
                           if p["data"] not in phones]  # fmt: skip
        return Identity(names=names, emails=emails, phones=phones)

    async def create_processor_token(self, access_token: str, account_id: str) -> str:
        data = await self._post(
            "/processor/token/create",
            {"access_token": access_token, "account_id": account_id, "processor": "dwolla"},
        )
        return str(data["processor_token"])

    async def aclose(self) -> None:
        await self.client.aclose()
