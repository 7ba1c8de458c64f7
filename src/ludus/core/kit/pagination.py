"""Page/limit pagination with the spec's `{page, limit, total, has_more}` block."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from ludus.core.kit.schemas import Items, PageEnvelope, Pagination

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    limit: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _page_params(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PageParams:
    return PageParams(page=page, limit=limit)


PageQuery = Annotated[PageParams, Depends(_page_params)]


def paginated(items: Sequence[T], total: int, params: PageParams) -> PageEnvelope[T]:
    return PageEnvelope[T](
        data=Items[T](items=list(items)),
        pagination=Pagination(
            page=params.page,
            limit=params.limit,
            total=total,
            has_more=params.offset + len(items) < total,
        ),
    )
