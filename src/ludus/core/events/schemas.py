"""The event envelope handed to handlers and webhook receivers, and admin views."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ludus.core.events.models import DeadLetterStatus
from ludus.core.kit.schemas import Schema


class EventMetadata(BaseModel):
    correlation_id: str
    trace_id: str


class Event(BaseModel):
    """Spec 000 §10.3."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: str
    version: str
    timestamp: datetime
    source: str
    tenant_id: uuid.UUID | None
    data: dict[str, Any]
    metadata: EventMetadata

    @classmethod
    def from_row(cls, row: Any) -> Event:
        return cls(
            event_id=row.id,
            event_type=row.event_type,
            version=row.version,
            timestamp=row.occurred_at,
            source=row.source,
            tenant_id=row.tenant_id,
            data=row.data,
            metadata=EventMetadata.model_validate(row.metadata),
        )


class DeadLetterOut(Schema):
    id: uuid.UUID
    event_id: uuid.UUID
    handler: str
    event_type: str
    tenant_id: uuid.UUID | None
    status: DeadLetterStatus
    attempts: int
    last_error: str
    replay_count: int
    dead_at: datetime
    replayed_at: datetime | None
    resolved_at: datetime | None


class HandlerRunOut(Schema):
    handler: str
    processed_at: datetime


class EventOut(BaseModel):
    event: Event
    handlers: list[str]
    processed: list[HandlerRunOut]
    dead_letters: list[DeadLetterOut]
