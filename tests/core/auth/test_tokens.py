"""Access-token verification: every way a bad token is refused, and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import jwt
from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.auth import tokens
from ludus.core.auth.models import Role, SigningKey
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.kit.settings import get_settings
from tests.core.auth.conftest import bearer
from tests.factories import make_actor, make_tenant


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _actor(db: Database):  # type: ignore[no-untyped-def]
    tenant = await make_tenant(db)
    return await make_actor(db, tenant, Role.member)


async def _me(client: AsyncClient, token: str) -> tuple[int, str]:
    resp = await client.get("/api/v1/me", headers=bearer(token))
    code = resp.json()["error"]["code"] if resp.status_code != 200 else ""
    return resp.status_code, code


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def _sign(db: Database, claims: dict[str, object], **headers: object) -> str:
    async with db.session(system=True) as s:
        keys = await tokens.key_store.keys(s)
    return jwt.encode(
        claims,
        keys.signing_private,
        algorithm="RS256",
        headers={"kid": keys.signing_kid, **headers},
    )


class TestRefusedTokens:
    async def test_valid_token_passes(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        assert await _me(client, actor.token) == (200, "")

    async def test_tampered_signature(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        head, body, sig = actor.token.split(".")
        flipped = ("A" if sig[5] != "A" else "B").join((sig[:5], sig[6:]))
        assert await _me(client, f"{head}.{body}.{flipped}") == (401, "INVALID_TOKEN")

    async def test_tampered_claims(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        head, _, sig = actor.token.split(".")
        claims = _claims(actor.token)
        claims["role"] = "tenant_admin"
        assert await _me(client, f"{head}.{_b64(claims)}.{sig}") == (401, "INVALID_TOKEN")

    async def test_alg_none(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        kid = jwt.get_unverified_header(actor.token)["kid"]
        header = _b64({"alg": "none", "typ": "JWT", "kid": kid})
        unsigned = f"{header}.{_b64(_claims(actor.token))}."
        assert await _me(client, unsigned) == (401, "INVALID_TOKEN")

    async def test_hs256_with_public_key_as_secret(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        kid = jwt.get_unverified_header(actor.token)["kid"]
        async with db.session(system=True) as s:
            pem = await s.scalar(select(SigningKey.public_key_pem).where(SigningKey.kid == kid))
        assert pem
        signing_input = f"{_b64({'alg': 'HS256', 'kid': kid})}.{_b64(_claims(actor.token))}"
        mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        assert await _me(client, forged) == (401, "INVALID_TOKEN")

    async def test_expired_when_clock_moves(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        clock.advance(get_settings().access_token_ttl_seconds - 5)
        assert await _me(client, actor.token) == (200, "")
        clock.advance(10)
        assert await _me(client, actor.token) == (401, "INVALID_TOKEN")

    async def test_wrong_audience(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        claims = {**_claims(actor.token), "aud": "someone-else"}
        assert await _me(client, await _sign(db, claims)) == (401, "INVALID_TOKEN")

    async def test_wrong_issuer(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        claims = {**_claims(actor.token), "iss": "evil"}
        assert await _me(client, await _sign(db, claims)) == (401, "INVALID_TOKEN")

    async def test_same_claims_resigned_pass(self, client: AsyncClient, db: Database) -> None:
        """Control for the two tests above: re-signing unchanged claims is accepted."""
        actor = await _actor(db)
        assert await _me(client, await _sign(db, _claims(actor.token))) == (200, "")

    async def test_unknown_kid(self, client: AsyncClient, db: Database) -> None:
        actor = await _actor(db)
        forged = await _sign(db, _claims(actor.token), kid=f"key-{uuid.uuid4().hex}")
        assert await _me(client, forged) == (401, "INVALID_TOKEN")

    async def test_garbage_and_wrong_scheme(self, client: AsyncClient) -> None:
        assert await _me(client, "not-a-jwt") == (401, "INVALID_TOKEN")
        resp = await client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
        assert resp.status_code == 401


class TestKeyRotation:
    async def test_old_key_verifies_until_its_tokens_expire(
        self, client: AsyncClient, db: Database
    ) -> None:
        actor = await _actor(db)
        old_kid = jwt.get_unverified_header(actor.token)["kid"]
        async with db.session(system=True) as s:
            new_kid = await tokens.create_signing_key(s)
        assert new_kid != old_kid
        async with db.session(system=True) as s:
            kids = {k["kid"] for k in (await tokens.jwks(s))["keys"]}
        assert {old_kid, new_kid} <= kids
        # The old token still works, new tokens are signed by the new key.
        assert await _me(client, actor.token) == (200, "")
        fresh = await make_actor(db, actor.tenant, Role.member)
        assert jwt.get_unverified_header(fresh.token)["kid"] == new_kid
        assert await _me(client, fresh.token) == (200, "")
        # Past the old token's expiry it stops verifying; the new key's tokens go on.
        clock.advance(get_settings().access_token_ttl_seconds + 1)
        assert await _me(client, actor.token) == (401, "INVALID_TOKEN")

    async def test_retired_key_leaves_jwks_after_grace(self, db: Database) -> None:
        async with db.session(system=True) as s:
            first = await tokens.create_signing_key(s)
        async with db.session(system=True) as s:
            await tokens.create_signing_key(s)
        settings = get_settings()
        clock.advance(settings.access_token_ttl_seconds + settings.signing_key_grace_seconds + 5)
        async with db.session(system=True) as s:
            kids = {k["kid"] for k in (await tokens.jwks(s))["keys"]}
        assert first not in kids
        assert kids


class TestVerifiedCache:
    async def test_cached_token_is_rechecked_against_keys_and_expiry(self, db: Database) -> None:
        actor = await _actor(db)
        async with db.session(system=True) as s:
            keys = await tokens.key_store.keys(s)
            claims = await tokens.verify_access_token(actor.token, s)
        assert tokens.verified.get(actor.token, keys) == claims
        kid = jwt.get_unverified_header(actor.token)["kid"]
        without_kid = tokens._Keys(
            {k: v for k, v in keys.public.items() if k != kid},
            keys.expires,
            keys.signing_kid,
            keys.signing_private,
            keys.loaded_at,
        )
        assert tokens.verified.get(actor.token, without_kid) is None
        # Dropped from the cache: the full check runs again (and passes with the real keys).
        assert tokens.verified.get(actor.token, keys) is None
        async with db.session(system=True) as s:
            assert await tokens.verify_access_token(actor.token, s) == claims
        clock.advance(get_settings().access_token_ttl_seconds + 1)
        assert tokens.verified.get(actor.token, keys) is None

    def test_size_is_bounded(self) -> None:
        cache = tokens.VerifiedCache(size=2)
        claims = tokens.AccessClaims(uuid.uuid4(), None, "member", None, "j", 2**40, None, {})
        for token in ("a", "b", "c"):
            cache.put(token, claims, "kid")
        assert len(cache._items) == 2 and "a" not in cache._items
