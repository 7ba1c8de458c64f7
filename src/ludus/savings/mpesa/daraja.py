"""The real Daraja HTTP client: OAuth token caching, STK Push, STK query, status query."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ludus.core.kit import clock
from ludus.savings.mpesa.base import (
    MpesaRejected,
    MpesaUnavailable,
    StatusQueryAck,
    StkPushAck,
    StkQueryResult,
    daraja_timestamp,
    stk_password,
)

SANDBOX_URL = "https://sandbox.safaricom.co.ke"
PRODUCTION_URL = "https://api.safaricom.co.ke"
PENDING_ERROR = "500.001.1001"  # STK query: the customer has not answered yet


@dataclass(frozen=True)
class DarajaCredentials:
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    initiator: str = ""
    security_credential: str = ""


class DarajaClient:
    """One org's Daraja credentials; the access token is reused until shortly before expiry."""

    refresh_margin_seconds = 60.0

    def __init__(
        self,
        credentials: DarajaCredentials,
        *,
        base_url: str = SANDBOX_URL,
        http: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def access_token(self) -> str:
        async with self._lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token
            try:
                resp = await self._http.get(
                    f"{self.base_url}/oauth/v1/generate",
                    params={"grant_type": "client_credentials"},
                    auth=(self.credentials.consumer_key, self.credentials.consumer_secret),
                )
            except httpx.HTTPError as exc:
                raise MpesaUnavailable(details={"step": "oauth"}) from exc
            if resp.status_code != 200:
                raise MpesaRejected(
                    "Daraja refused the credentials.", details={"status": resp.status_code}
                )
            body = resp.json()
            self.token_fetches += 1
            self._token = str(body["access_token"])
            ttl = float(body.get("expires_in", 3599))
            self._token_expires = time.monotonic() + max(0.0, ttl - self.refresh_margin_seconds)
            return self._token

    def _invalidate(self) -> None:
        self._token = None
        self._token_expires = 0.0

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                resp = await self._http.post(
                    f"{self.base_url}{path}",
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise MpesaUnavailable(details={"path": path}) from exc
            if resp.status_code == 401 and attempt == 1:
                self._invalidate()  # token revoked early: fetch a new one once
                continue
            try:
                body: dict[str, Any] = resp.json()
            except ValueError as exc:
                raise MpesaUnavailable(details={"path": path, "status": resp.status_code}) from exc
            if resp.status_code >= 500 and body.get("errorCode") != PENDING_ERROR:
                raise MpesaUnavailable(details={"path": path, "status": resp.status_code})
            if resp.status_code >= 400 and body.get("errorCode") != PENDING_ERROR:
                raise MpesaRejected(
                    str(body.get("errorMessage") or "M-Pesa refused the request."),
                    details={"path": path, "code": body.get("errorCode")},
                )
            return body
        raise MpesaRejected("Daraja keeps refusing the access token.")

    def _password(self) -> tuple[str, str]:
        stamp = daraja_timestamp(clock.utcnow())
        return stk_password(self.credentials.shortcode, self.credentials.passkey, stamp), stamp

    async def stk_push(
        self,
        *,
        phone: str,
        amount: int,
        account_ref: str,
        description: str,
        callback_url: str,
    ) -> StkPushAck:
        password, stamp = self._password()
        msisdn = phone.lstrip("+")
        body = await self._post(
            "/mpesa/stkpush/v1/processrequest",
            {
                "BusinessShortCode": self.credentials.shortcode,
                "Password": password,
                "Timestamp": stamp,
                "TransactionType": "CustomerPayBillOnline",
                "Amount": amount // 100,  # STK takes whole shillings
                "PartyA": msisdn,
                "PartyB": self.credentials.shortcode,
                "PhoneNumber": msisdn,
                "CallBackURL": callback_url,
                "AccountReference": account_ref[:12],
                "TransactionDesc": description[:13],
            },
        )
        if str(body.get("ResponseCode")) != "0":
            raise MpesaRejected(str(body.get("ResponseDescription") or "STK push refused."))
        return StkPushAck(
            merchant_request_id=str(body["MerchantRequestID"]),
            checkout_request_id=str(body["CheckoutRequestID"]),
            response_code=str(body["ResponseCode"]),
            customer_message=str(body.get("CustomerMessage", "")),
        )

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        password, stamp = self._password()
        body = await self._post(
            "/mpesa/stkpushquery/v1/query",
            {
                "BusinessShortCode": self.credentials.shortcode,
                "Password": password,
                "Timestamp": stamp,
                "CheckoutRequestID": checkout_request_id,
            },
        )
        if body.get("errorCode") == PENDING_ERROR:
            return StkQueryResult(checkout_request_id, None, str(body.get("errorMessage", "")))
        return StkQueryResult(
            checkout_request_id, int(body["ResultCode"]), str(body.get("ResultDesc", ""))
        )

    async def transaction_status(
        self, *, transaction_id: str, result_url: str, timeout_url: str
    ) -> StatusQueryAck:
        body = await self._post(
            "/mpesa/transactionstatus/v1/query",
            {
                "Initiator": self.credentials.initiator,
                "SecurityCredential": self.credentials.security_credential,
                "CommandID": "TransactionStatusQuery",
                "TransactionID": transaction_id,
                "PartyA": self.credentials.shortcode,
                "IdentifierType": "4",
                "ResultURL": result_url,
                "QueueTimeOutURL": timeout_url,
                "Remarks": "reconciliation",
                "Occasion": "",
            },
        )
        return StatusQueryAck(
            conversation_id=str(body.get("ConversationID", "")),
            originator_conversation_id=str(body.get("OriginatorConversationID", "")),
            response_code=str(body.get("ResponseCode", "")),
        )

    async def register_urls(self, *, confirmation_url: str, validation_url: str) -> dict[str, Any]:
        return await self._post(
            "/mpesa/c2b/v1/registerurl",
            {
                "ShortCode": self.credentials.shortcode,
                "ResponseType": "Completed",
                "ConfirmationURL": confirmation_url,
                "ValidationURL": validation_url,
            },
        )
