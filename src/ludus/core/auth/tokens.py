"""RS256 access tokens with `kid`, a JWKS document, and key rotation.

Public keys are cached per process; an unknown `kid` triggers one reload from the database
(rate-limited), so keys rotated in by another process verify without a restart.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import SigningKey
from ludus.core.kit import clock, crypto
from ludus.core.kit.errors import InvalidToken
from ludus.core.kit.settings import get_settings

_KEY_PURPOSE = "jwt-signing-key"


@dataclass(frozen=True)
class AccessClaims:
    sub: uuid.UUID
    tenant_id: uuid.UUID | None
    role: str
    sid: uuid.UUID | None
    jti: str
    exp: int
    device_id: str | None
    raw: dict[str, Any]


@dataclass
class _Keys:
    public: dict[str, Any]  # kid -> public key object (verifies while not expired)
    expires: dict[str, float]  # kid -> epoch after which the key no longer verifies
    signing_kid: str | None
    signing_private: Any
    loaded_at: float


class KeyStore:
    def __init__(self) -> None:
        self._keys: _Keys | None = None

    def clear(self) -> None:
        self._keys = None
        verified.clear()

    async def load(self, session: AsyncSession) -> _Keys:
        settings = get_settings()
        grace = settings.access_token_ttl_seconds + settings.signing_key_grace_seconds
        rows = (await session.execute(select(SigningKey))).scalars().all()
        public: dict[str, Any] = {}
        expires: dict[str, float] = {}
        signing_kid, signing_private = None, None
        newest: datetime | None = None
        for row in rows:
            if row.retired_at is not None:
                until = row.retired_at.timestamp() + grace
                if until < clock.utcnow().timestamp():
                    continue
                expires[row.kid] = until
            public[row.kid] = serialization.load_pem_public_key(row.public_key_pem.encode())
            if row.active and (newest is None or row.created_at > newest):
                newest = row.created_at
                signing_kid = row.kid
        if signing_kid is not None:
            row = next(r for r in rows if r.kid == signing_kid)
            pem = crypto.decrypt(row.private_key_enc, purpose=_KEY_PURPOSE)
            # Our own key, decrypted with our secret: skipping cryptography's RSA consistency
            # check saves ~100 ms of CPU per load.
            signing_private = serialization.load_pem_private_key(
                pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
            )
        self._keys = _Keys(public, expires, signing_kid, signing_private, time.monotonic())
        return self._keys

    async def keys(self, session: AsyncSession) -> _Keys:
        if self._keys is None:
            return await self.load(session)
        return self._keys

    def cached(self) -> _Keys | None:
        return self._keys


key_store = KeyStore()


async def create_signing_key(session: AsyncSession) -> str:
    """Add a new active key; older keys are retired and verify until their tokens expire."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    now = clock.utcnow()
    kid = f"key-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    await session.execute(
        update(SigningKey).where(SigningKey.active.is_(True)).values(active=False, retired_at=now)
    )
    session.add(
        SigningKey(
            kid=kid,
            private_key_enc=crypto.encrypt(pem, purpose=_KEY_PURPOSE),
            public_key_pem=public_pem,
            active=True,
            created_at=now,
        )
    )
    await session.flush()
    key_store.clear()
    return kid


async def ensure_signing_key(session: AsyncSession) -> None:
    keys = await key_store.keys(session)
    if keys.signing_kid is None:
        await create_signing_key(session)
        await key_store.load(session)


async def issue_access_token(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    role: str,
    session_id: uuid.UUID | None,
    device_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[str, int]:
    settings = get_settings()
    keys = await key_store.keys(session)
    if keys.signing_kid is None:
        await ensure_signing_key(session)
        keys = await key_store.keys(session)
    now = int(clock.utcnow().timestamp())
    ttl = settings.access_token_ttl_seconds
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "role": role,
        "tenant_id": str(tenant_id) if tenant_id else None,
        "partner_id": str(tenant_id) if tenant_id else None,
        "sid": str(session_id) if session_id else None,
        "device_id": device_id,
    }
    if extra:
        claims.update(extra)
    token = jwt.encode(
        claims, keys.signing_private, algorithm="RS256", headers={"kid": keys.signing_kid}
    )
    return token, ttl


class VerifiedCache:
    """Tokens whose signature and claims already checked out, so a client's repeated
    requests (and the rate limiter's look before the route's) skip the RSA verify.

    An entry is only reused while the token is unexpired and its key still verifies.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[AccessClaims, str]] = OrderedDict()

    def get(self, token: str, keys: _Keys) -> AccessClaims | None:
        hit = self._items.get(token)
        if hit is None:
            return None
        claims, kid = hit
        now = clock.utcnow().timestamp()
        if claims.exp <= now or kid not in keys.public or keys.expires.get(kid, now + 1) < now:
            del self._items[token]
            return None
        self._items.move_to_end(token)
        return claims

    def put(self, token: str, claims: AccessClaims, kid: str) -> None:
        self._items[token] = (claims, kid)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


verified = VerifiedCache()


def _decode(token: str, keys: _Keys) -> AccessClaims:
    cached = verified.get(token, keys)
    if cached is not None:
        return cached
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("Malformed token.") from exc
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        raise InvalidToken("Unsupported token algorithm.")
    key = keys.public.get(kid)
    if key is None:
        raise LookupError(kid)
    if kid in keys.expires and keys.expires[kid] < clock.utcnow().timestamp():
        raise InvalidToken("The signing key has expired.")
    try:
        raw = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "jti"]},
            # PyJWT checks exp against the real clock; we check it against ours below.
            leeway=timedelta(days=36500) if clock._offset_seconds else 0,
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if raw["exp"] <= clock.utcnow().timestamp():
        raise InvalidToken("Signature has expired")
    try:
        claims = AccessClaims(
            sub=uuid.UUID(raw["sub"]),
            tenant_id=uuid.UUID(raw["tenant_id"]) if raw.get("tenant_id") else None,
            role=str(raw.get("role") or ""),
            sid=uuid.UUID(raw["sid"]) if raw.get("sid") else None,
            jti=str(raw["jti"]),
            exp=int(raw["exp"]),
            device_id=raw.get("device_id"),
            raw=raw,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("Malformed claims.") from exc
    verified.put(token, claims, kid)
    return claims


_RELOAD_INTERVAL = 5.0


async def verify_access_token(token: str, session: AsyncSession) -> AccessClaims:
    keys = await key_store.keys(session)
    try:
        return _decode(token, keys)
    except LookupError:
        pass
    if time.monotonic() - keys.loaded_at > _RELOAD_INTERVAL or not keys.public:
        keys = await key_store.load(session)
        try:
            return _decode(token, keys)
        except LookupError:
            pass
    raise InvalidToken("Unknown signing key.")


def verify_cached(token: str) -> AccessClaims | None:
    """Best-effort verification with already-loaded keys (no I/O); None if it cannot tell."""
    keys = key_store.cached()
    if keys is None:
        return None
    try:
        return _decode(token, keys)
    except (LookupError, InvalidToken):
        return None


async def jwks(session: AsyncSession) -> dict[str, Any]:
    keys = await key_store.load(session)
    out = []
    for kid, key in keys.public.items():
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        out.append(jwk)
    return {"keys": out}
