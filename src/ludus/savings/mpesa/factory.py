"""Which adapter an org uses: Daraja when it has production credentials, else the sandbox."""

from __future__ import annotations

from ludus.savings.models import SavingsOrg
from ludus.savings.mpesa.base import MpesaAdapter
from ludus.savings.mpesa.daraja import PRODUCTION_URL, DarajaClient, DarajaCredentials
from ludus.savings.mpesa.sandbox import SandboxAdapter

_override: MpesaAdapter | None = None
_sandbox: SandboxAdapter | None = None
_clients: dict[str, DarajaClient] = {}  # per org, so the OAuth token is reused


def set_adapter(adapter: MpesaAdapter | None) -> None:
    """Tests and the bench put a scripted adapter here."""
    global _override
    _override = adapter


def adapter_for(org: SavingsOrg) -> MpesaAdapter:
    from ludus.savings.service import mpesa_secrets

    if _override is not None:
        return _override
    secrets = mpesa_secrets(org)
    if org.mpesa_environment == "production" and secrets:
        key = f"{org.tenant_id}:{org.updated_at.isoformat() if org.updated_at else ''}"
        client = _clients.get(key)
        if client is None:
            creds = DarajaCredentials(
                **{k: secrets.get(k, "") for k in DarajaCredentials.__dataclass_fields__}
            )
            client = _clients[key] = DarajaClient(creds, base_url=PRODUCTION_URL)
        return client
    global _sandbox
    if _sandbox is None:
        _sandbox = SandboxAdapter()
    return _sandbox
