"""Shared query helpers for module repositories: every lookup is scoped to one tenant."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def one_in_tenant(
    session: AsyncSession, model: type[T], tenant_id: uuid.UUID, *conditions: ColumnElement[bool]
) -> T | None:
    """The one row of `model` in `tenant_id` matching `conditions`, or None."""
    tenant_column: Any = getattr(model, "tenant_id")  # noqa: B009 - every tenant model has it
    result = await session.execute(select(model).where(tenant_column == tenant_id, *conditions))
    return result.scalar_one_or_none()
