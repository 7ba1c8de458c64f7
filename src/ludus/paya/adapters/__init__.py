"""The process's provider adapters (sandbox unless LUDUS_PAYA_PROVIDERS=http) and their
circuit breakers. Tests swap adapters with `use()`."""

from __future__ import annotations

from dataclasses import dataclass

from ludus.paya.adapters.base import DwollaAdapter, PlaidAdapter
from ludus.paya.adapters.breaker import CircuitBreaker
from ludus.paya.config import get_paya_settings


@dataclass
class Providers:
    plaid: PlaidAdapter
    dwolla: DwollaAdapter
    plaid_breaker: CircuitBreaker
    dwolla_breaker: CircuitBreaker


_providers: Providers | None = None


def _build() -> Providers:
    settings = get_paya_settings()
    plaid: PlaidAdapter
    dwolla: DwollaAdapter
    if settings.providers == "http":
        from ludus.paya.adapters.dwolla import HttpDwolla
        from ludus.paya.adapters.plaid import HttpPlaid

        plaid = HttpPlaid(
            settings.plaid_base_url,
            settings.plaid_client_id,
            settings.plaid_secret,
            timeout=settings.http_timeout_seconds,
        )
        dwolla = HttpDwolla(
            settings.dwolla_base_url,
            settings.dwolla_key,
            settings.dwolla_secret,
            fbo_funding_source=settings.dwolla_fbo_funding_source,
            timeout=settings.http_timeout_seconds,
        )
    else:
        from ludus.paya.adapters.sandbox import SandboxDwolla, SandboxPlaid

        plaid = SandboxPlaid()
        dwolla = SandboxDwolla(
            settle_seconds=settings.sandbox_settle_seconds,
            fbo_funding_source=settings.dwolla_fbo_funding_source,
        )
    return _with_breakers(plaid, dwolla)


def _with_breakers(plaid: PlaidAdapter, dwolla: DwollaAdapter) -> Providers:
    settings = get_paya_settings()
    return Providers(
        plaid=plaid,
        dwolla=dwolla,
        plaid_breaker=CircuitBreaker(
            "plaid",
            failures=settings.breaker_failures,
            reset_seconds=settings.breaker_reset_seconds,
        ),
        dwolla_breaker=CircuitBreaker(
            "dwolla",
            failures=settings.breaker_failures,
            reset_seconds=settings.breaker_reset_seconds,
        ),
    )


def providers() -> Providers:
    global _providers
    if _providers is None:
        _providers = _build()
    return _providers


def use(plaid: PlaidAdapter | None = None, dwolla: DwollaAdapter | None = None) -> Providers:
    """Install adapters (fresh breakers); None keeps the current one."""
    global _providers
    current = providers()
    _providers = _with_breakers(plaid or current.plaid, dwolla or current.dwolla)
    return _providers


def reset() -> None:
    global _providers
    _providers = None
