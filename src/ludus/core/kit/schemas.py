"""Response envelopes (spec 000 §4.8) and shared schema helpers."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    """Request bodies: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    has_more: bool


class Items(BaseModel, Generic[T]):
    items: list[T]


class PageEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: Items[T]
    pagination: Pagination


def ok(data: T) -> Envelope[T]:
    return Envelope[T](data=data)
