"""Pure-ASGI middleware: request context, body limit, rate limit and the unit of work.

Order (outermost first): RequestContext → BodyLimit → RateLimit → Transaction → app.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ludus.core.http.ratelimit import get_rate_limiter, is_exempt
from ludus.core.http.session import SESSION_STATE_KEY
from ludus.core.idempotency import store as idem
from ludus.core.kit import context
from ludus.core.kit.db import get_database, set_tenant
from ludus.core.kit.errors import (
    InternalError,
    LudusError,
    PayloadTooLarge,
    from_database_error,
)
from ludus.core.kit.settings import get_settings
from ludus.core.observability import metrics

log = structlog.get_logger("ludus.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNLIMITED_PATHS = ("/health/", "/metrics")


def error_body(error: LudusError) -> bytes:
    return orjson.dumps({"success": False, "error": error.to_dict()})


async def send_error(send: Send, error: LudusError, extra: dict[str, str] | None = None) -> None:
    body = error_body(error)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    for name, value in {**error.headers, **(extra or {})}.items():
        headers.append((name.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Request id, structured access log, metrics, and the last-resort 500 envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        client = scope.get("client")
        ip = client[0] if client else None
        rid_token = context.request_id_var.set(request_id)
        ip_token = context.client_ip_var.set(ip)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            error = exc if isinstance(exc, LudusError) else InternalError()
            if not isinstance(exc, LudusError):
                log.exception("unhandled_error", path=scope.get("path"))
            status = error.status_code
            if not response_started:
                await send_error(send, error, {"X-Request-Id": request_id})
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            metrics.REQUESTS.labels(method, route, str(status)).inc()
            metrics.LATENCY.labels(method, route).observe(elapsed)
            if not str(scope.get("path", "")).startswith(UNLIMITED_PATHS):
                log.info(
                    "request",
                    method=method,
                    path=scope.get("path"),
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    ip=ip,
                    tenant_id=scope.get("state", {}).get("tenant_id"),
                )
            context.request_id_var.reset(rid_token)
            context.client_ip_var.reset(ip_token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return "unmatched"
    return str(getattr(route, "path", "unmatched"))


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes or get_settings().max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await send_error(send, PayloadTooLarge(details={"max_bytes": self.max_bytes}))
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(details={"max_bytes": self.max_bytes})
            return message

        await self.app(scope, limited_receive, send)


class RateLimitMiddleware:
    """Per-caller API limit with X-RateLimit-* headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/api/") or is_exempt(path):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        caller = _caller_key(headers, scope)
        decision = await get_rate_limiter().hit(get_settings().api_rate_limit, "api", caller)
        extra = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_at),
        }
        if not decision.allowed:
            retry = max(1, decision.reset_at - int(time.time()))
            await send_error(
                send,
                _rate_limited(decision.limit, decision.reset_at),
                {**extra, "Retry-After": str(retry)},
            )
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableHeaders(scope=message)
                for name, value in extra.items():
                    mutable[name] = value
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _rate_limited(limit: int, reset_at: int) -> LudusError:
    from ludus.core.kit.errors import RateLimited

    return RateLimited(details={"limit": limit, "reset_at": reset_at})


def _caller_key(headers: Headers, scope: Scope) -> str:
    from ludus.core.auth.tokens import verify_cached

    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        claims = verify_cached(auth[7:].strip())
        if claims is not None:
            return f"user:{claims.sub}"
    api_key = headers.get("x-api-key")
    if api_key:
        return "key:" + api_key[:16]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class TransactionMiddleware:
    """One database session per request, committed before the response is sent.

    A mutating request carrying an Idempotency-Key is claimed first; its stored response is
    written in the same transaction as its side effects, and replayed for duplicates.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key") or headers.get("x-idempotency-key")
        claim: idem.Claim | None = None
        try:
            if key is not None and scope["method"] in MUTATING:
                key = idem.validate_key(key)
                body, receive = await _buffer_body(receive)
                tenant_id, principal, system = await _idempotency_scope(headers, scope)
                session = _claiming_session(state, tenant_id, system)
                outcome = await idem.claim(
                    session,
                    tenant_id=tenant_id,
                    principal=principal,
                    key=key,
                    method=scope["method"],
                    path=scope["path"]
                    + ("?" + scope["query_string"].decode() if scope.get("query_string") else ""),
                    body=body,
                )
                if isinstance(outcome, idem.StoredResponse):
                    await _finish(state, commit=False)
                    await _replay(send, outcome)
                    return
                claim = outcome
                if tenant_id is None and not system:
                    await set_tenant(session, None)  # the claim needed bypass; the app does not
            if claim is None:
                await self._run(scope, receive, send, state)
            else:
                await self._run_idempotent(scope, receive, send, state, claim)
        finally:
            session_: AsyncSession | None = state.pop(SESSION_STATE_KEY, None)
            if session_ is not None:
                await session_.close()

    async def _run(self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any]) -> None:
        failed: LudusError | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal failed
            if failed is not None:
                return  # the commit failed: the app's response is replaced by the error
            if message["type"] == "http.response.start":
                try:
                    await _finish(state, commit=message["status"] < 400)
                except Exception as exc:
                    # Raising here would reach Starlette after "response started"; answer below.
                    if not isinstance(exc, LudusError):
                        log.exception("commit_failed", path=scope.get("path"))
                    failed = exc if isinstance(exc, LudusError) else InternalError()
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            await _finish(state, commit=False)
            raise
        if failed is not None:
            await send_error(send, failed)

    async def _run_idempotent(
        self, scope: Scope, receive: Receive, send: Send, state: dict[str, Any], claim: idem.Claim
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        done = False

        async def capture(message: Message) -> None:
            nonlocal start, done
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                done = not message.get("more_body", False)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _finish(state, commit=False)
            raise
        if start is None or not done:
            await _finish(state, commit=False)
            raise InternalError("The response did not complete.")
        body = b"".join(chunks)
        status = int(start["status"])
        if status < 400:
            session = state[SESSION_STATE_KEY]
            response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
            await idem.complete(session, claim, status, response_headers, body)
            await _finish(state, commit=True)
        else:
            await _finish(state, commit=False)  # the claim goes with it: the key can be retried
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _claiming_session(
    state: dict[str, Any], tenant_id: uuid.UUID | None, system: bool
) -> AsyncSession:
    """The request's session, scoped so its first statement can write the claim row."""
    session = get_database().sessionmaker()
    session.info["tenant_id"] = tenant_id
    session.info["bypass_rls"] = tenant_id is None  # platform-level keys have no tenant
    state[SESSION_STATE_KEY] = session
    return session


async def _finish(state: dict[str, Any], *, commit: bool) -> None:
    session: AsyncSession | None = state.get(SESSION_STATE_KEY)
    if session is None or not session.in_transaction():
        # Nothing began (an `add` begins one too): committing would build an empty one.
        return
    if not commit:
        await session.rollback()
        return
    try:
        await session.commit()
    except DBAPIError as exc:
        # Deferred constraints and serialization failures surface at commit.
        await session.rollback()
        error = from_database_error(exc)
        if error is None:
            raise
        raise error from exc


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _idempotency_scope(headers: Headers, scope: Scope) -> tuple[uuid.UUID | None, str, bool]:
    """(tenant, principal key, is a system admin) of the caller, for the claim row."""
    from ludus.core.auth.tokens import verify_access_token, verify_cached
    from ludus.core.kit.crypto import hash_token
    from ludus.core.kit.errors import InvalidToken

    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        claims = verify_cached(token)
        if claims is None:
            async with get_database().session(system=True) as session:
                try:
                    claims = await verify_access_token(token, session)
                except InvalidToken:
                    claims = None
        if claims is not None:
            system = claims.tenant_id is None and claims.role == "system_admin"
            return claims.tenant_id, f"user:{claims.tenant_id}:{claims.sub}", system
    api_key = headers.get("x-api-key")
    if api_key:
        return None, "key:" + hash_token(api_key)[:40], False
    client = scope.get("client")
    ip = client[0] if client else "unknown"
    return None, f"anon:{headers.get('x-tenant', '')}:{ip}", False


async def _replay(send: Send, stored: idem.StoredResponse) -> None:
    headers = [(k.encode(), v.encode()) for k, v in stored.headers.items()]
    headers.append((b"content-length", str(len(stored.body)).encode()))
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
