"""Partner fulfilment adapters. The sandbox adapter is the default for every partner; a
real integration registers its own adapter for its partner tenant."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class FulfilmentRequest:
    redemption_id: uuid.UUID
    partner_tenant_id: uuid.UUID
    item_ref: str | None
    fulfillment_type: str
    face_value: int
    face_currency: str
    delivery_email: str | None
    delivery_address: dict[str, Any] | None


@dataclass(frozen=True)
class FulfilmentResult:
    ok: bool
    partner_ref: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False


class FulfilmentAdapter(Protocol):
    async def fulfil(self, request: FulfilmentRequest) -> FulfilmentResult: ...


def _code(groups: int = 3) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(groups))


class SandboxAdapter:
    """Succeeds with a fake code or tracking number. Items whose partner reference is
    `sandbox:fail` fail for good and `sandbox:flaky` fail with a retryable error."""

    async def fulfil(self, request: FulfilmentRequest) -> FulfilmentResult:
        if request.item_ref == "sandbox:fail":
            return FulfilmentResult(ok=False, error="Partner rejected the order (sandbox).")
        if request.item_ref == "sandbox:flaky":
            return FulfilmentResult(ok=False, error="Partner timeout (sandbox).", retryable=True)
        ref = f"SBX-{request.redemption_id.hex[:12].upper()}"
        if request.fulfillment_type == "physical":
            return FulfilmentResult(ok=True, partner_ref=ref, details={"tracking": _code(2)})
        return FulfilmentResult(ok=True, partner_ref=ref, details={"code": _code()})


_adapters: dict[uuid.UUID, FulfilmentAdapter] = {}
_default: FulfilmentAdapter = SandboxAdapter()


def register_adapter(partner_tenant_id: uuid.UUID, adapter: FulfilmentAdapter | None) -> None:
    if adapter is None:
        _adapters.pop(partner_tenant_id, None)
    else:
        _adapters[partner_tenant_id] = adapter


def adapter_for(partner_tenant_id: uuid.UUID) -> FulfilmentAdapter:
    return _adapters.get(partner_tenant_id, _default)
