"""Process-wide configuration, read from `LUDUS_*` environment variables and `.env`."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LUDUS_", env_file=".env", extra="ignore")

    env: str = "development"
    # Unset → an embedded PostgreSQL is started in `data_dir/pgdata`.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    data_dir: Path = Path(".ludus")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_read_pool_size: int = 4  # per process, for one-round-trip reads
    # Non-superuser role every request transaction switches to, so RLS applies.
    db_app_role: str = "ludus_app"

    secret_key: str = ""  # encrypts signing keys and secrets at rest; generated in dev
    jwt_issuer: str = "ludus-auth"
    jwt_audience: str = "ludus-api"
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_days: int = 30
    signing_key_grace_seconds: int = 3600  # a retired key verifies at least this long

    login_rate_limit: str = "5/15 minutes"
    api_rate_limit: str = "600/minute"
    lockout_threshold: int = 5
    lockout_minutes: int = 30
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 3
    otp_resend_cooldown_seconds: int = 60
    trusted_device_days: int = 45
    max_body_bytes: int = 1_000_000

    run_worker_in_process: bool = True
    log_level: str = "INFO"
    log_json: bool = True
    public_base_url: str = "http://127.0.0.1:8000"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    def resolved_secret_key(self) -> str:
        """The configured secret, or a per-checkout dev secret kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
