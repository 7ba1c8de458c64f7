"""Register jobs and periodic jobs on the Procrastinate app.

    @job("notifications.send", retry=Backoff(max_tries=5))
    async def send(notification_id: str) -> None: ...

    @periodic("0 3 * * 1", name="loyalty.weekly_rewards")
    async def weekly_rewards(timestamp: int) -> None: ...

Defer a registered job inside the caller's transaction with `ludus.core.jobs.defer.defer`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from ludus.core.jobs.app import app

DEFAULT_QUEUE = "default"
PERIODIC_QUEUE = "periodic"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Backoff(BaseRetryStrategy):
    """`max_tries` runs in all; the wait before try n+1 is `base_seconds * factor**(n-1)`."""

    max_tries: int = 3
    base_seconds: float = 10.0
    factor: float = 4.0

    def delay(self, attempts_done: int) -> float:
        return self.base_seconds * self.factor ** max(attempts_done - 1, 0)

    def is_last_try(self, job: Job) -> bool:
        return job.attempts + 1 >= self.max_tries

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if self.is_last_try(job):
            return None
        return RetryDecision(retry_in={"seconds": int(self.delay(job.attempts + 1))})


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    cron: str
    func: Callable[..., Awaitable[Any]]


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def job(
    name: str,
    *,
    queue: str = DEFAULT_QUEUE,
    retry: BaseRetryStrategy | None = None,
    pass_context: bool = False,
) -> Callable[[F], F]:
    """Register an async function as a Procrastinate task named `name`."""

    def decorate(func: F) -> F:
        strategy = retry if retry is not None else Backoff()
        if pass_context:
            app.task(name=name, queue=queue, retry=strategy, pass_context=True)(func)
        else:
            app.task(name=name, queue=queue, retry=strategy)(func)
        return func

    return decorate


def periodic(cron: str, *, name: str, queue: str = PERIODIC_QUEUE) -> Callable[[F], F]:
    """Run `func(timestamp=<scheduled unix time>)` on a cron schedule (one run per slot
    across all workers). Keep the body idempotent per timestamp."""

    def decorate(func: F) -> F:
        if name in PERIODIC_JOBS:
            raise ValueError(f"periodic job {name!r} is already registered")
        task = app.task(name=name, queue=queue, retry=Backoff(max_tries=1))(func)
        app.periodic(cron=cron, periodic_id=name)(task)
        PERIODIC_JOBS[name] = PeriodicJob(name=name, cron=cron, func=func)
        return func

    return decorate
