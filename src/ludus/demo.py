"""`ludus demo seed`: one branded tenant per product, an admin and a few users.

Idempotent: existing tenants and users (by slug / email) are left as they are. The
credentials are listed in the README.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import Membership, Role, User
from ludus.core.auth.passwords import hash_secret
from ludus.core.auth.tokens import ensure_signing_key
from ludus.core.tenancy import repository as tenants
from ludus.core.tenancy import service as tenant_service
from ludus.core.tenancy.models import Product, TenantKind
from ludus.core.tenancy.schemas import Features, TenantCreate, Theme

ADMIN_PASSWORD = "Ludus-Admin-2026!"
USER_PASSWORD = "Demo-Player-2026!"
SYSTEM_ADMIN_EMAIL = "admin@ludus.local"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    phone: str | None = None


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    kind: TenantKind
    product: Product
    currency: str
    timezone: str
    locale: str
    theme: dict[str, Any]
    users: list[DemoUser] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)


DEMO_TENANTS = [
    DemoTenant(
        "smartmoney",
        "SmartMoney by ABC Bank",
        TenantKind.bank_partner,
        Product.moneylife,
        "USD",
        "America/New_York",
        "en",
        {
            "brand_name": "SmartMoney by ABC Bank",
            "primary_color": "#0A3D6B",
            "secondary_color": "#E8F0FE",
            "accent_color": "#FF9800",
            "coin_name": "SmartPoints",
        },
        [
            DemoUser("admin@smartmoney.demo", "Dana Partner", Role.tenant_admin),
            DemoUser("teacher@smartmoney.demo", "Tom Teacher", Role.teacher),
            DemoUser("alex@smartmoney.demo", "Alex Player", Role.member),
            DemoUser("sam@smartmoney.demo", "Sam Player", Role.member),
        ],
        {"classroom_mode": True, "referral_program": True, "max_level": 8},
    ),
    DemoTenant(
        "chama-yetu",
        "Chama Yetu Savings Group",
        TenantKind.chama,
        Product.savings,
        "KES",
        "Africa/Nairobi",
        "sw",
        {"brand_name": "Chama Yetu", "primary_color": "#1B5E20", "accent_color": "#FFC107"},
        [
            DemoUser("admin@chama-yetu.demo", "Wanjiru Admin", Role.tenant_admin, "+254711000001"),
            DemoUser("otieno@chama-yetu.demo", "Otieno Member", Role.member, "+254711000002"),
            DemoUser("akinyi@chama-yetu.demo", "Akinyi Member", Role.member, "+254711000003"),
        ],
    ),
    DemoTenant(
        "paya",
        "PaYa Network",
        TenantKind.payment_network,
        Product.paya,
        "USD",
        "America/Chicago",
        "en",
        {"brand_name": "PaYa", "primary_color": "#5B21B6", "accent_color": "#10B981"},
        [
            DemoUser("admin@paya.demo", "Pat Ops", Role.tenant_admin, "+13125550100"),
            DemoUser("maria@paya.demo", "Maria Sender", Role.member, "+13125550101"),
            DemoUser("li@paya.demo", "Li Receiver", Role.member, "+13125550102"),
        ],
    ),
    DemoTenant(
        "cafe-aroma",
        "Café Aroma",
        TenantKind.business,
        Product.loyalty,
        "PEN",
        "America/Lima",
        "es",
        {"brand_name": "Café Aroma", "primary_color": "#6D4C41", "accent_color": "#FFB300"},
        [
            DemoUser("owner@cafe-aroma.demo", "Rosa Owner", Role.tenant_admin, "+51987000001"),
            DemoUser("barista@cafe-aroma.demo", "Luis Barista", Role.staff, "+51987000002"),
            DemoUser("carla@cafe-aroma.demo", "Carla Customer", Role.member, "+51987000003"),
        ],
    ),
    DemoTenant(
        "classify-family",
        "CLASSIFY Family",
        TenantKind.family_app,
        Product.classify,
        "USD",
        "Europe/London",
        "en",
        {"brand_name": "CLASSIFY", "primary_color": "#0277BD", "accent_color": "#F06292"},
        [
            DemoUser("admin@classify.demo", "Cleo Admin", Role.tenant_admin),
            DemoUser("parent@classify.demo", "Pat Parent", Role.parent),
        ],
    ),
]


async def _user(session: AsyncSession, email: str, name: str, password: str, **extra: Any) -> User:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            id=uuid.uuid4(),
            email=email,
            display_name=name,
            password_hash=hash_secret(password),
            locale="en",
            timezone="UTC",
            **extra,
        )
        session.add(user)
        await session.flush()
    return user


async def seed(session: AsyncSession) -> list[str]:
    """Create whatever of the demo is missing; returns a line per tenant."""
    await ensure_signing_key(session)
    await _user(session, SYSTEM_ADMIN_EMAIL, "Platform Admin", ADMIN_PASSWORD, is_system_admin=True)
    lines = []
    for spec in DEMO_TENANTS:
        tenant = await tenants.get_by_slug(session, spec.slug)
        if tenant is None:
            tenant = await tenant_service.create_tenant(
                session,
                TenantCreate(
                    slug=spec.slug,
                    name=spec.name,
                    kind=spec.kind,
                    products=[spec.product],
                    theme=Theme(**spec.theme),
                    features=Features(**spec.features),
                    currency=spec.currency,
                    timezone=spec.timezone,
                    default_locale=spec.locale,
                ),
                actor_user_id=None,
                actor="demo-seed",
            )
        for demo_user in spec.users:
            password = ADMIN_PASSWORD if demo_user.role == Role.tenant_admin else USER_PASSWORD
            user = await _user(
                session, demo_user.email, demo_user.name, password, phone=demo_user.phone
            )
            exists = await session.scalar(
                select(Membership.id).where(
                    Membership.tenant_id == tenant.id, Membership.user_id == user.id
                )
            )
            if exists is None:
                session.add(
                    Membership(
                        id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id, role=demo_user.role
                    )
                )
        await session.flush()
        lines.append(f"{spec.slug:<16} {spec.product.value:<10} {len(spec.users)} users")
    return lines
