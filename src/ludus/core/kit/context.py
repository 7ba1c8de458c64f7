"""Per-request values (request id, client IP) readable from services without passing them."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)


def request_id() -> str | None:
    return request_id_var.get()


def client_ip() -> str | None:
    return client_ip_var.get()
