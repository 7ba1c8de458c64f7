"""Webhook routes: provider callbacks (public, verified per provider) and the tenant-admin
API for inbound provider settings and outbound subscriptions with their delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from ludus.core.audit import service as audit
from ludus.core.auth.principal import TenantAdmin, tenant_of
from ludus.core.http.ratelimit import exempt_prefix
from ludus.core.http.session import DbSession
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.kit.settings import get_settings
from ludus.core.webhooks import inbound, outbound
from ludus.core.webhooks.models import DeliveryStatus, InboundStatus, ProviderConfig
from ludus.core.webhooks.providers import InboundRequest
from ludus.core.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    InboundAck,
    InboundOut,
    ProviderConfigIn,
    ProviderConfigOut,
    SecretOut,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionOut,
    SubscriptionUpdate,
)

router = APIRouter(tags=["webhooks"])
# Provider callbacks are verified by signature; the per-IP API limit would drop bursts.
exempt_prefix("/api/v1/webhooks/")
PARTNER = "/partner/webhooks"


@router.post("/webhooks/{provider}/{tenant_slug}", response_model=Envelope[InboundAck])
async def receive_webhook(
    provider: str, tenant_slug: str, request: Request, session: DbSession
) -> Envelope[InboundAck]:
    """Provider callback. 401 `INVALID_SIGNATURE` records nothing; a repeat of an already
    received event answers 200 with `duplicate: true` and is not processed again."""
    base = get_settings().public_base_url.rstrip("/")
    query = request.url.query
    received = await inbound.receive(
        session,
        provider_name=provider,
        tenant_slug=tenant_slug,
        request=InboundRequest(
            body=await request.body(),
            headers={k.lower(): v for k, v in request.headers.items()},
            url=base + request.url.path + (f"?{query}" if query else ""),
            query=dict(request.query_params),
            client_ip=request.client.host if request.client else None,
            content_type=request.headers.get("content-type"),
        ),
    )
    return ok(InboundAck(id=received.webhook_id, duplicate=received.duplicate))


# Inbound provider settings -------------------------------------------------------------


def _config_out(config: ProviderConfig, slug: str) -> ProviderConfigOut:
    base = get_settings().public_base_url.rstrip("/")
    return ProviderConfigOut(
        provider=config.provider,
        options=config.options,
        active=config.active,
        callback_url=f"{base}/api/v1/webhooks/{config.provider}/{slug}",
        created_at=config.created_at,
        updated_at=config.updated_at,
    )


@router.put(f"{PARTNER}/providers/{{provider}}", response_model=Envelope[ProviderConfigOut])
async def put_provider_config(
    provider: str, body: ProviderConfigIn, principal: TenantAdmin, session: DbSession
) -> Envelope[ProviderConfigOut]:
    tenant = await tenant_of(principal, session)
    config = await inbound.set_config(
        session,
        tenant.id,
        provider,
        secret=body.secret,
        options=body.options.model_dump(exclude_none=True),
        active=body.active,
    )
    await audit.record(
        session,
        action="webhooks.provider_configured",
        tenant_id=tenant.id,
        actor_user_id=principal.user_id,
        target_type="webhook_provider",
        target_id=provider,
        after={"options": config.options, "active": config.active},
    )
    await session.refresh(config)
    return ok(_config_out(config, tenant.slug))


@router.get(f"{PARTNER}/providers", response_model=Envelope[list[ProviderConfigOut]])
async def list_provider_configs(
    principal: TenantAdmin, session: DbSession
) -> Envelope[list[ProviderConfigOut]]:
    tenant = await tenant_of(principal, session)
    configs = await inbound.list_configs(session, tenant.id)
    return ok([_config_out(c, tenant.slug) for c in configs])


@router.get(f"{PARTNER}/inbound", response_model=PageEnvelope[InboundOut])
async def list_inbound(
    principal: TenantAdmin,
    session: DbSession,
    page: PageQuery,
    provider: Annotated[str | None, Query(max_length=32)] = None,
    status: InboundStatus | None = None,
) -> PageEnvelope[InboundOut]:
    tenant_id = principal.require_tenant()
    rows, total = await inbound.list_inbound(
        session, tenant_id, provider=provider, status=status, offset=page.offset, limit=page.limit
    )
    return paginated([InboundOut.model_validate(r) for r in rows], total, page)


@router.post(f"{PARTNER}/inbound/{{webhook_id}}/replay", response_model=Envelope[InboundOut])
async def replay_inbound(
    webhook_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[InboundOut]:
    row = await inbound.replay(session, principal.require_tenant(), webhook_id)
    return ok(InboundOut.model_validate(row))


# Outbound subscriptions ----------------------------------------------------------------


@router.post(
    f"{PARTNER}/subscriptions",
    response_model=Envelope[SubscriptionCreated],
    status_code=status.HTTP_201_CREATED,
)
async def create_subscription(
    body: SubscriptionCreate, principal: TenantAdmin, session: DbSession
) -> Envelope[SubscriptionCreated]:
    tenant_id = principal.require_tenant()
    sub, secret = await outbound.create_subscription(
        session, tenant_id, url=body.url, event_types=body.event_types, description=body.description
    )
    await audit.record(
        session,
        action="webhooks.subscription_created",
        tenant_id=tenant_id,
        actor_user_id=principal.user_id,
        target_type="webhook_subscription",
        target_id=sub.id,
        after={"url": sub.url, "event_types": sub.event_types},
    )
    await session.refresh(sub)
    out = SubscriptionOut.model_validate(sub)
    return ok(SubscriptionCreated(**out.model_dump(), secret=secret))


@router.get(f"{PARTNER}/subscriptions", response_model=PageEnvelope[SubscriptionOut])
async def list_subscriptions(
    principal: TenantAdmin, session: DbSession, page: PageQuery
) -> PageEnvelope[SubscriptionOut]:
    rows, total = await outbound.list_subscriptions(
        session, principal.require_tenant(), offset=page.offset, limit=page.limit
    )
    return paginated([SubscriptionOut.model_validate(r) for r in rows], total, page)


@router.get(
    f"{PARTNER}/subscriptions/{{subscription_id}}", response_model=Envelope[SubscriptionOut]
)
async def get_subscription(
    subscription_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[SubscriptionOut]:
    sub = await outbound.get_subscription(session, principal.require_tenant(), subscription_id)
    return ok(SubscriptionOut.model_validate(sub))


@router.patch(
    f"{PARTNER}/subscriptions/{{subscription_id}}", response_model=Envelope[SubscriptionOut]
)
async def update_subscription(
    subscription_id: uuid.UUID, body: SubscriptionUpdate, principal: TenantAdmin, session: DbSession
) -> Envelope[SubscriptionOut]:
    sub = await outbound.get_subscription(session, principal.require_tenant(), subscription_id)
    if body.url is not None:
        outbound.check_url(body.url)
        sub.url = body.url
    if body.event_types is not None:
        sub.event_types = sorted(set(body.event_types))
    if body.description is not None:
        sub.description = body.description
    if body.active is not None:
        sub.active = body.active
    await session.flush()
    await session.refresh(sub)
    return ok(SubscriptionOut.model_validate(sub))


@router.delete(
    f"{PARTNER}/subscriptions/{{subscription_id}}", response_model=Envelope[SubscriptionOut]
)
async def delete_subscription(
    subscription_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[SubscriptionOut]:
    tenant_id = principal.require_tenant()
    sub = await outbound.get_subscription(session, tenant_id, subscription_id)
    await outbound.delete_subscription(session, sub)
    await audit.record(
        session,
        action="webhooks.subscription_deleted",
        tenant_id=tenant_id,
        actor_user_id=principal.user_id,
        target_type="webhook_subscription",
        target_id=sub.id,
    )
    return ok(SubscriptionOut.model_validate(sub))


@router.post(
    f"{PARTNER}/subscriptions/{{subscription_id}}/rotate-secret", response_model=Envelope[SecretOut]
)
async def rotate_secret(
    subscription_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[SecretOut]:
    sub = await outbound.get_subscription(session, principal.require_tenant(), subscription_id)
    secret = await outbound.rotate_secret(session, sub)
    return ok(SecretOut(id=sub.id, secret=secret))


@router.get(f"{PARTNER}/deliveries", response_model=PageEnvelope[DeliveryOut])
async def list_deliveries(
    principal: TenantAdmin,
    session: DbSession,
    page: PageQuery,
    subscription_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
) -> PageEnvelope[DeliveryOut]:
    rows, total = await outbound.list_deliveries(
        session,
        principal.require_tenant(),
        subscription_id=subscription_id,
        status=status,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([DeliveryOut.model_validate(r) for r in rows], total, page)


@router.get(f"{PARTNER}/deliveries/{{delivery_id}}", response_model=Envelope[DeliveryDetail])
async def get_delivery(
    delivery_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[DeliveryDetail]:
    delivery, attempts = await outbound.get_delivery(
        session, principal.require_tenant(), delivery_id
    )
    out = DeliveryOut.model_validate(delivery)
    return ok(
        DeliveryDetail(**out.model_dump(), log=[AttemptOut.model_validate(a) for a in attempts])
    )


@router.post(f"{PARTNER}/deliveries/{{delivery_id}}/retry", response_model=Envelope[DeliveryOut])
async def retry_delivery(
    delivery_id: uuid.UUID, principal: TenantAdmin, session: DbSession
) -> Envelope[DeliveryOut]:
    delivery, _ = await outbound.get_delivery(session, principal.require_tenant(), delivery_id)
    delivery = await outbound.redeliver(session, delivery)
    return ok(DeliveryOut.model_validate(delivery))
