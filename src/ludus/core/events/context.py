"""Correlation across hops: events emitted while handling an event inherit its trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ludus.core.kit import context as request_context

trace_id_var: ContextVar[str | None] = ContextVar("event_trace_id", default=None)


@contextmanager
def handling(correlation_id: str, trace_id: str) -> Iterator[None]:
    """While a handler runs, its correlation id stands in for the request id."""
    rid = request_context.request_id_var.set(correlation_id)
    tid = trace_id_var.set(trace_id)
    try:
        yield
    finally:
        request_context.request_id_var.reset(rid)
        trace_id_var.reset(tid)


def current_correlation_id() -> str | None:
    return request_context.request_id()


def current_trace_id() -> str | None:
    return trace_id_var.get()
