"""Auth request and response schemas."""

from __future__ import annotations

import uuid
from datetime import date

from ludus.core.kit.schemas import Schema


class UserOut(Schema):
    id: uuid.UUID
    email: str | None
    phone: str | None
    display_name: str
    birthdate: date | None
    locale: str
    timezone: str
    status: str
    mfa_enabled: bool


class MeOut(Schema):
    user: UserOut
    tenant_id: uuid.UUID | None
    role: str | None
