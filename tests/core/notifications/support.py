"""Helpers for notification tests: tenants/users with addresses, templates, a fake HTTP
provider server on 127.0.0.1, and providers that fail on purpose."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from ludus.core.auth.models import Role, User
from ludus.core.kit.db import Database
from ludus.core.notifications import manage
from ludus.core.notifications.models import Channel
from ludus.core.notifications.providers import OutgoingMessage, ProviderError, SendResult
from ludus.core.tenancy.models import Tenant
from tests.factories import make_tenant, make_user, unique


def phone() -> str:
    return "+2547" + "".join(random.choice("0123456789") for _ in range(8))


async def tenant_with(
    db: Database, notifications: dict[str, Any] | None = None, **fields: Any
) -> Tenant:
    config = {"notifications": notifications} if notifications is not None else {}
    return await make_tenant(db, config=config, **fields)


async def user_in(db: Database, tenant: Tenant, role: Role = Role.member, **fields: Any) -> User:
    fields.setdefault("phone", phone())
    return await make_user(db, tenant, role, **fields)


async def template(
    db: Database,
    tenant: Tenant | None,
    key: str,
    channel: Channel,
    body: str,
    *,
    locale: str = "en",
    subject: str | None = None,
) -> None:
    async with db.session(system=True) as s:
        await manage.upsert_template(
            s,
            tenant_id=tenant.id if tenant else None,
            key=key,
            channel=channel,
            locale=locale,
            subject=subject,
            body=body,
        )


def key(prefix: str = "tpl") -> str:
    return unique(prefix).lower()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded], tuple[int, dict[str, Any]]]


@dataclass
class FakeServer:
    """A real HTTP server in a thread that records requests and answers with `responder`."""

    responder: Responder
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                rec = Recorded(
                    "POST", self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                outer.requests.append(rec)
                status, payload = outer.responder(rec)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FlakyProvider:
    """Fails `failures` times (transient unless `permanent`), then succeeds."""

    name = "flaky"

    def __init__(self, failures: int, *, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.calls: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls.append(message)
        if len(self.calls) <= self.failures:
            raise ProviderError("provider down", permanent=self.permanent)
        return SendResult(self.name, f"flaky-{uuid.uuid4().hex[:8]}")
