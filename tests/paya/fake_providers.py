"""Small fake Plaid and Dwolla HTTP servers (Starlette + uvicorn in a thread on a free
127.0.0.1 port) for the real HTTP adapters to talk to."""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeState:
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_with: int | None = None  # answer every call with this status
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)


def plaid_app(state: FakeState) -> Starlette:
    async def handle(request: Request) -> Response:
        body = await request.json()
        state.requests.append((request.method, request.url.path, body))
        if state.fail_with:
            return JSONResponse({"error_code": "INTERNAL"}, status_code=state.fail_with)
        if body.get("client_id") != "cid" or body.get("secret") != "sec":
            return JSONResponse(
                {"error_code": "INVALID_API_KEYS", "error_message": "bad keys"}, status_code=400
            )
        path = request.url.path
        if path == "/link/token/create":
            return JSONResponse({"link_token": "link-fake-" + body["user"]["client_user_id"]})
        if path == "/item/public_token/exchange":
            if not body["public_token"].startswith("public-"):
                return JSONResponse({"error_code": "INVALID_PUBLIC_TOKEN"}, status_code=400)
            return JSONResponse({"access_token": "access-fake-1", "item_id": "item-fake-1"})
        if path == "/accounts/get":
            return JSONResponse(
                {
                    "accounts": [
                        {
                            "account_id": "acc-1",
                            "name": "Checking",
                            "mask": "0000",
                            "type": "depository",
                            "subtype": "checking",
                        }
                    ]
                }
            )
        if path == "/identity/get":
            owner = {
                "names": ["Ada Lovelace"],
                "emails": [{"data": "ada@example.com"}],
                "phone_numbers": [{"data": "+15555550100"}],
            }
            return JSONResponse({"accounts": [{"account_id": "acc-1", "owners": [owner]}]})
        if path == "/processor/token/create":
            return JSONResponse({"processor_token": "processor-fake-" + body["account_id"]})
        return JSONResponse({"error_code": "NOT_FOUND"}, status_code=404)

    return Starlette(routes=[Route("/{path:path}", handle, methods=["POST"])])


def dwolla_app(state: FakeState, base: list[str]) -> Starlette:
    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == "Bearer tok-1"

    async def token(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(b"key:secret").decode()
        form = await request.form()
        state.requests.append(("POST", "/token", dict(form)))
        if request.headers.get("authorization") != expected:
            return JSONResponse({"code": "InvalidCredentials"}, status_code=401)
        return JSONResponse({"access_token": "tok-1", "expires_in": 3600})

    def created(kind: str, ident: str) -> Response:
        return Response(status_code=201, headers={"Location": f"{base[0]}/{kind}/{ident}"})

    async def create(request: Request) -> Response:
        body = await request.json()
        state.requests.append(("POST", request.url.path, body))
        if state.fail_with:
            return JSONResponse({"code": "ServerError"}, status_code=state.fail_with)
        if not authorized(request):
            return JSONResponse({"code": "InvalidAccessToken"}, status_code=401)
        path = request.url.path
        if path == "/customers":
            return created("customers", "cust-" + body["correlationId"])
        if path.endswith("/funding-sources"):
            return created("funding-sources", "fs-" + uuid.uuid4().hex[:8])
        if path == "/transfers":
            key = request.headers.get("idempotency-key", "")
            if key in state.idempotency:
                return created("transfers", state.idempotency[key])
            ident = "tr-" + uuid.uuid4().hex[:8]
            state.idempotency[key] = ident
            state.transfers[ident] = {"status": "pending", "amount": body["amount"]}
            return created("transfers", ident)
        return JSONResponse({"code": "NotFound"}, status_code=404)

    async def transfer(request: Request) -> Response:
        state.requests.append(("GET", request.url.path, {}))
        if state.fail_with:
            return JSONResponse({"code": "ServerError"}, status_code=state.fail_with)
        item = state.transfers.get(request.path_params["ident"])
        if item is None:
            return JSONResponse({"code": "NotFound"}, status_code=404)
        return JSONResponse({"id": request.path_params["ident"], **item})

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/transfers/{ident}", transfer, methods=["GET"]),
            Route("/{path:path}", create, methods=["POST"]),
        ]
    )


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@contextmanager
def fake_plaid() -> Iterator[tuple[str, FakeState]]:
    state = FakeState()
    with serve(plaid_app(state)) as url:
        yield url, state


@contextmanager
def fake_dwolla() -> Iterator[tuple[str, FakeState]]:
    state = FakeState()
    base: list[str] = [""]
    app = dwolla_app(state, base)
    with serve(app) as url:
        base[0] = url
        yield url, state
