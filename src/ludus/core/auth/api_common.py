"""Helpers shared by the auth routers."""

from __future__ import annotations

from fastapi import Request

from ludus.core.auth import service
from ludus.core.auth.schemas import TokenOut, UserOut
from ludus.core.auth.sessions import ClientInfo
from ludus.core.kit import context


def client_info(
    request: Request, device_id: str | None = None, platform: str | None = None
) -> ClientInfo:
    ip = context.client_ip() or (request.client.host if request.client else None)
    return ClientInfo(ip, request.headers.get("user-agent"), device_id, platform)


def token_out(signed: service.SignedIn) -> TokenOut:
    tokens = signed.tokens
    return TokenOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user_id=signed.user.id,
        role=tokens.role.value,
        tenant_id=tokens.tenant_id,
        user=UserOut.model_validate(signed.user),
        is_new=signed.is_new,
    )
