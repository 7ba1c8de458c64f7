"""Engagement events go through the core transactional outbox."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.service import emit

SOURCE = "engagement"


async def publish(
    session: AsyncSession, event_type: str, tenant_id: uuid.UUID, data: dict[str, Any]
) -> uuid.UUID:
    return await emit(session, event_type=event_type, tenant_id=tenant_id, data=data, source=SOURCE)
