"""Secrets at rest (AES-256-GCM keyed from the app secret) and token hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ludus.core.kit.settings import get_settings


def _key(purpose: str, secret: str | None = None) -> bytes:
    secret = secret or get_settings().resolved_secret_key()
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def encrypt(plaintext: str, *, purpose: str = "default", secret: str | None = None) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(purpose, secret)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str, *, purpose: str = "default", secret: str | None = None) -> str:
    raw = base64.urlsafe_b64decode(token.encode())
    opened = AESGCM(_key(purpose, secret)).decrypt(raw[:12], raw[12:], purpose.encode())
    return opened.decode()


def hash_token(token: str) -> str:
    """Hash for high-entropy secrets (refresh tokens, API keys, reset links): SHA-256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
