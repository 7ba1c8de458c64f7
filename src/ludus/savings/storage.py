"""Where uploaded files (org logos) live: an interface with a local-filesystem default."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol

from ludus.core.kit.errors import error_code
from ludus.core.kit.settings import get_settings

LogoTooLarge = error_code(413, "SAVINGS_LOGO_TOO_LARGE", "The logo is larger than 512 KB.")
LogoType = error_code(415, "SAVINGS_LOGO_TYPE", "The logo must be a PNG, JPEG or WebP image.")
MAX_LOGO_BYTES = 512 * 1024
_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
}
_KEY = re.compile(r"^[0-9a-f-]{36}/[0-9a-f]{64}\.(png|jpg|webp)$")


class FileStorage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class LocalStorage:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or get_settings().data_dir / "savings-files"

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("bad storage key")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None


_storage: FileStorage | None = None


def get_storage() -> FileStorage:
    global _storage
    if _storage is None:
        _storage = LocalStorage()
    return _storage


def set_storage(storage: FileStorage | None) -> None:
    global _storage
    _storage = storage


def sniff_image(data: bytes) -> tuple[str, str]:
    """Extension and media type from the bytes themselves (the client's header is not trusted)."""
    if len(data) > MAX_LOGO_BYTES:
        raise LogoTooLarge(details={"max_bytes": MAX_LOGO_BYTES})
    for magic, kind in _SIGNATURES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    raise LogoType()


def logo_key(tenant_id: str, data: bytes, ext: str) -> str:
    return f"{tenant_id}/{hashlib.sha256(data).hexdigest()}.{ext}"


MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
