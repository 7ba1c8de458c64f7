"""The real Daraja HTTP client against a local fake Daraja server (http.server on a free
port), and the sandbox adapter's scripted outcomes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ludus.savings.mpesa.base import MpesaRejected, parse_stk
from ludus.savings.mpesa.daraja import DarajaClient, DarajaCredentials
from ludus.savings.mpesa.sandbox import Outcome, SandboxAdapter


class FakeDaraja(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict]] = []
    tokens_issued = 0
    expires_in = "3599"
    revoke_next = False

    def log_message(self, *args: object) -> None:
        return

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        cls = type(self)
        auth = self.headers.get("authorization", "")
        if auth != "Basic " + base64.b64encode(b"ck-123456:cs-123456").decode():
            return self._send(400, {"errorMessage": "Invalid credentials"})
        cls.tokens_issued += 1
        self._send(200, {"access_token": f"tok{cls.tokens_issued}", "expires_in": cls.expires_in})

    def do_POST(self) -> None:
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.headers.get("authorization") != f"Bearer tok{cls.tokens_issued}" or cls.revoke_next:
            cls.revoke_next = False
            return self._send(
                401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
            )
        cls.calls.append((self.path, body))
        if self.path == "/mpesa/stkpush/v1/processrequest":
            if body["Amount"] < 1:
                return self._send(
                    400, {"errorCode": "400.002.02", "errorMessage": "Invalid Amount"}
                )
            return self._send(200, {"MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1",
                                    "ResponseCode": "0", "ResponseDescription": "ok",
                                    "CustomerMessage": "Success"})  # fmt: skip
        if self.path == "/mpesa/stkpushquery/v1/query":
            if body["CheckoutRequestID"] == "pending":
                return self._send(
                    500,
                    {
                        "errorCode": "500.001.1001",
                        "errorMessage": "The transaction is being processed",
                    },
                )
            return self._send(
                200,
                {
                    "ResponseCode": "0",
                    "ResultCode": "1032",
                    "ResultDesc": "Request cancelled by user",
                },
            )
        if self.path == "/mpesa/transactionstatus/v1/query":
            return self._send(
                200,
                {"ConversationID": "AG_1", "OriginatorConversationID": "o-1", "ResponseCode": "0"},
            )
        self._send(404, {"errorMessage": "unknown"})


@pytest.fixture
def fake_daraja() -> Iterator[str]:
    FakeDaraja.calls = []
    FakeDaraja.tokens_issued = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDaraja)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client_for(url: str, secret: str = "cs-123456") -> DarajaClient:
    creds = DarajaCredentials("ck-123456", secret, "174379", "passkey-xyz", "api", "cred")
    return DarajaClient(creds, base_url=url)


class TestDarajaClient:
    async def test_stk_push_reuses_the_token_and_sends_the_password(self, fake_daraja: str) -> None:
        client = client_for(fake_daraja)
        try:
            for _ in range(3):
                ack = await client.stk_push(phone="+254712345678", amount=150_000, account_ref="ACC1",  # noqa: E501
                                            description="Savings", callback_url="https://x/cb")  # fmt: skip  # noqa: E501
                assert ack.checkout_request_id == "ws_CO_1"
            assert FakeDaraja.tokens_issued == 1
            _, body = FakeDaraja.calls[0]
            assert body["Amount"] == 1500 and body["PhoneNumber"] == "254712345678"
            stamp = body["Timestamp"]
            assert base64.b64decode(body["Password"]).decode() == f"174379passkey-xyz{stamp}"
        finally:
            await client.aclose()

    async def test_revoked_token_is_refetched_once(self, fake_daraja: str) -> None:
        client = client_for(fake_daraja)
        try:
            await client.access_token()
            FakeDaraja.revoke_next = True
            status = await client.transaction_status(
                transaction_id="RX1", result_url="https://r", timeout_url="https://t"
            )
            assert status.conversation_id == "AG_1" and FakeDaraja.tokens_issued == 2
        finally:
            await client.aclose()

    async def test_expiring_token_is_refreshed(self, fake_daraja: str) -> None:
        FakeDaraja.expires_in = "30"  # inside the refresh margin: never reused
        client = client_for(fake_daraja)
        try:
            await client.stk_query("x")
            await client.stk_query("x")
            assert FakeDaraja.tokens_issued == 2
        finally:
            FakeDaraja.expires_in = "3599"
            await client.aclose()

    async def test_query_pending_cancelled_and_errors(self, fake_daraja: str) -> None:
        client = client_for(fake_daraja)
        try:
            assert (await client.stk_query("pending")).result_code is None
            assert (await client.stk_query("ws_CO_1")).result_code == 1032
            with pytest.raises(MpesaRejected):
                await client.stk_push(phone="+254712345678", amount=50, account_ref="A",
                                      description="d", callback_url="https://x")  # fmt: skip
        finally:
            await client.aclose()
        bad = client_for(fake_daraja, secret="wrong-secret")
        try:
            with pytest.raises(MpesaRejected):
                await bad.access_token()
        finally:
            await bad.aclose()


class TestSandbox:
    async def test_scripted_outcomes_fire_callbacks(self) -> None:
        delivered: list[tuple[str, bytes]] = []

        async def deliver(url: str, body: bytes) -> None:
            delivered.append((url, body))

        sandbox = SandboxAdapter(deliver=deliver, auto_fire=False)
        outcomes = [Outcome.success, Outcome.insufficient_funds, Outcome.cancelled, Outcome.timeout]
        for i, outcome in enumerate(outcomes):
            sandbox.script(f"+25471000000{i}", outcome)
            await sandbox.stk_push(phone=f"+25471000000{i}", amount=10_000, account_ref="A",
                                   description="d", callback_url=f"https://cb/{i}")  # fmt: skip
        sandbox.script("+254710000009", Outcome.no_callback)
        lost = await sandbox.stk_push(phone="+254710000009", amount=10_000, account_ref="A",
                                      description="d", callback_url="https://cb/9")  # fmt: skip
        assert await sandbox.fire_all() == 4
        codes = [parse_stk(json.loads(body)).result_code for _, body in delivered]
        assert codes == [0, 1, 1032, 1037]
        assert parse_stk(json.loads(delivered[0][1])).amount == 10_000
        assert (await sandbox.stk_query(lost.checkout_request_id)).result_code is None
