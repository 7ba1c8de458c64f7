"""Inbound webhook providers: how each one proves a callback is genuine, and names it.

A provider pairs a verifier (raises `InvalidSignature`) with extractors for the provider's
event id (the de-duplication key) and event type. Modules add processors with
`@processor("stripe")` in their `tasks.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from ludus.core.kit.errors import LudusError
from ludus.core.webhooks.models import InboundWebhook


class InvalidSignature(LudusError):
    status_code = 401
    code = "INVALID_SIGNATURE"
    message = "The webhook signature or source could not be verified."


@dataclass(frozen=True)
class InboundRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    url: str  # the public URL the provider called (what it signed)
    query: Mapping[str, str]
    client_ip: str | None
    content_type: str | None

    def json(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


Verifier = Callable[[InboundRequest, str, Mapping[str, Any]], None]
Extractor = Callable[[InboundRequest], str | None]


@dataclass(frozen=True)
class Provider:
    name: str
    verify: Verifier
    event_id: Extractor
    event_type: Extractor


PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> Provider:
    PROVIDERS[provider.name] = provider
    return provider


# Verifiers ---------------------------------------------------------------------------


def stripe_verifier(request: InboundRequest, secret: str, options: Mapping[str, Any]) -> None:
    try:
        stripe.Webhook.construct_event(
            request.body,
            request.headers.get("stripe-signature"),
            secret,
            tolerance=int(options.get("tolerance_seconds", 300)),
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise InvalidSignature() from exc


def hmac_sha256_verifier(default_header: str) -> Verifier:
    """Hex HMAC-SHA256 of the raw body in a header (an optional `sha256=` prefix is allowed)."""

    def verify(request: InboundRequest, secret: str, options: Mapping[str, Any]) -> None:
        header = str(options.get("signature_header", default_header)).lower()
        given = request.headers.get(header, "").strip()
        given = given.removeprefix("sha256=")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given.lower(), expected):
            raise InvalidSignature()

    return verify


def twilio_verifier(request: InboundRequest, secret: str, options: Mapping[str, Any]) -> None:
    signature = request.headers.get("x-twilio-signature", "")
    is_form = (request.content_type or "").startswith("application/x-www-form-urlencoded")
    params: Any = request.form() if is_form else request.body.decode("utf-8", "replace")
    url = str(options.get("public_url") or request.url)
    if not signature or not RequestValidator(secret).validate(url, params, signature):
        raise InvalidSignature()


def token_and_ip_verifier(request: InboundRequest, secret: str, options: Mapping[str, Any]) -> None:
    """A shared token in the URL (`?token=`) AND a source IP on the tenant's allow-list.

    Used where the provider does not sign callbacks (M-Pesa Daraja). No allow-list
    configured means no callback is accepted.
    """
    token = request.query.get("token", "")
    if not token or not hmac.compare_digest(token.encode(), secret.encode()):
        raise InvalidSignature()
    allowed = options.get("allowed_ips") or []
    if not request.client_ip or not _ip_allowed(request.client_ip, allowed):
        raise InvalidSignature("The callback came from an address that is not allowed.")


def _ip_allowed(ip: str, allowed: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(str(entry), strict=False):
                return True
        except ValueError:
            continue
    return False


# Extractors --------------------------------------------------------------------------


def _json_field(name: str) -> Extractor:
    def extract(request: InboundRequest) -> str | None:
        value = request.json().get(name)
        return str(value) if value not in (None, "") else None

    return extract


def _twilio_event_id(request: InboundRequest) -> str | None:
    form = request.form()
    sid = form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid")
    status = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus") or ""
    # one message reports several statuses; each is its own event
    return f"{sid}:{status}" if sid else None


def _twilio_event_type(request: InboundRequest) -> str | None:
    form = request.form()
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if status:
        return f"message.{status}"
    return f"call.{form['CallStatus']}" if form.get("CallStatus") else None


def _mpesa_parts(request: InboundRequest) -> tuple[str | None, str | None]:
    data = request.json()
    stk = (
        (data.get("Body") or {}).get("stkCallback") if isinstance(data.get("Body"), dict) else None
    )
    if isinstance(stk, dict) and stk.get("CheckoutRequestID"):
        return str(stk["CheckoutRequestID"]), "stk_callback"
    result = data.get("Result")
    if isinstance(result, dict) and result.get("ConversationID"):
        return str(result["ConversationID"]), "result"
    if data.get("TransID"):
        return str(data["TransID"]), "c2b_confirmation"
    return None, None


def _generic_event_id(request: InboundRequest) -> str | None:
    return request.headers.get("x-webhook-id") or _json_field("id")(request)


register_provider(Provider("stripe", stripe_verifier, _json_field("id"), _json_field("type")))
register_provider(
    Provider(
        "dwolla",
        hmac_sha256_verifier("x-request-signature-sha-256"),
        _json_field("id"),
        _json_field("topic"),
    )
)
register_provider(
    Provider("generic", hmac_sha256_verifier("x-signature"), _generic_event_id, _json_field("type"))
)
register_provider(Provider("twilio", twilio_verifier, _twilio_event_id, _twilio_event_type))
register_provider(
    Provider(
        "mpesa",
        token_and_ip_verifier,
        lambda r: _mpesa_parts(r)[0],
        lambda r: _mpesa_parts(r)[1],
    )
)


# Processors --------------------------------------------------------------------------

ProcessorFunc = Callable[[AsyncSession, InboundWebhook], Awaitable[None]]
P = TypeVar("P", bound=ProcessorFunc)
PROCESSORS: dict[str, ProcessorFunc] = {}


def processor(provider: str) -> Callable[[P], P]:
    """Handle verified callbacks of `provider` in a job (tenant-scoped session, committed by
    the framework). Must be idempotent: a callback may be replayed."""

    def decorate(func: P) -> P:
        existing = PROCESSORS.get(provider)
        if existing is not None and existing is not func:
            raise ValueError(f"a processor for {provider!r} is already registered")
        PROCESSORS[provider] = func
        return func

    return decorate
