"""Auth request and response schemas."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, AliasChoices, EmailStr, Field

from ludus.core.auth.models import Role
from ludus.core.kit import clock
from ludus.core.kit.schemas import InputSchema, Schema


def normalize_phone(value: str) -> str:
    """E.164 form of an international number (must start with '+')."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            "Give the phone number in international form, e.g. +254712345678."
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("This is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("Unknown IANA time zone.") from exc
    return value


def _birthdate(value: date) -> date:
    today = clock.utcnow().date()
    if value > today or value.year < 1900:
        raise ValueError("The birthdate must be in the past.")
    return value


def _lower(value: str) -> str:
    return value.lower()


Phone = Annotated[str, Field(min_length=4, max_length=32), AfterValidator(normalize_phone)]
Email = Annotated[EmailStr, Field(max_length=320), AfterValidator(_lower)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Timezone = Annotated[str, Field(max_length=64), AfterValidator(_timezone)]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=16)]
Birthdate = Annotated[date, AfterValidator(_birthdate)]
DeviceId = Annotated[str, Field(min_length=1, max_length=128)]
Pin = Annotated[str, Field(pattern=r"^\d{4,6}$")]
OtpCode = Annotated[str, Field(pattern=r"^\d{6}$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=100)]
Username = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$"), AfterValidator(_lower)
]
Scope = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_.:-]{0,63})$")]
_NO_SPACE = re.compile(r"\s")


class Platform(enum.StrEnum):
    ios = "ios"
    android = "android"
    web = "web"
    other = "other"


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


# Requests


class RegisterIn(InputSchema):
    email: Email
    password: Password
    display_name: DisplayName
    birthdate: Birthdate | None = Field(
        default=None, validation_alias=AliasChoices("birthdate", "date_of_birth")
    )
    locale: Locale | None = None
    timezone: Timezone | None = None
    phone: Phone | None = None
    device_id: DeviceId | None = None
    platform: Platform | None = None


class LoginIn(InputSchema):
    email: Email
    password: Password
    device_id: DeviceId
    platform: Platform | None = None


class RefreshIn(InputSchema):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordChangeIn(InputSchema):
    old_password: Password
    new_password: Password


class PasswordResetIn(InputSchema):
    email: Email


class PasswordResetConfirmIn(InputSchema):
    token: str = Field(min_length=10, max_length=200)
    new_password: Password


class OtpRequestIn(InputSchema):
    phone: Phone


class OtpVerifyIn(InputSchema):
    phone: Phone
    code: OtpCode
    device_id: DeviceId
    display_name: DisplayName | None = None
    platform: Platform | None = None


class MfaVerifyIn(InputSchema):
    mfa_token: str = Field(min_length=10, max_length=200)
    code: OtpCode
    trust_device: bool = False


class MfaToggleIn(InputSchema):
    password: Password


class ChildCreateIn(InputSchema):
    display_name: DisplayName
    birthdate: Birthdate
    pin: Pin
    username: Username | None = None


class ChildPinIn(InputSchema):
    pin: Pin


class ChildLoginIn(InputSchema):
    family_code: str | None = Field(default=None, min_length=4, max_length=16)
    parent_email: Email | None = None
    username: Username | None = None
    child_id: uuid.UUID | None = None
    pin: Pin
    device_id: DeviceId
    platform: Platform | None = None


class ApiKeyRole(enum.StrEnum):
    tenant_admin = "tenant_admin"
    staff = "staff"


class ApiKeyCreateIn(InputSchema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1, max_length=32)
    role: ApiKeyRole = ApiKeyRole.tenant_admin
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


# Responses


class TokenOut(Schema):
    mfa_required: Literal[False] = False
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user_id: uuid.UUID
    role: str
    tenant_id: uuid.UUID | None
    user: UserOut
    is_new: bool = False


class MfaRequiredOut(Schema):
    mfa_required: Literal[True] = True
    mfa_token: str
    channel: str
    destination: str  # masked
    expires_in: int


class RefreshOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class OtpSentOut(Schema):
    phone: str
    expires_in: int
    resend_after: int


class DeviceOut(Schema):
    id: uuid.UUID
    device_id: str | None
    platform: str | None
    last_active: datetime | None
    created_at: datetime
    is_current: bool


class DevicesOut(Schema):
    devices: list[DeviceOut]


class MfaStatusOut(Schema):
    mfa_enabled: bool


class ChildOut(Schema):
    id: uuid.UUID
    display_name: str
    username: str
    birthdate: date | None
    family_id: uuid.UUID
    family_code: str


class FamilyOut(Schema):
    id: uuid.UUID
    code: str
    children: list[ChildOut]


class ApiKeyOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str  # shown once
