"""Housekeeping for the job engine itself."""

from __future__ import annotations

import structlog

from ludus.core.jobs.app import app
from ludus.core.jobs.registry import periodic

log = structlog.get_logger("ludus.jobs")

STALLED_AFTER_SECONDS = 60  # workers heartbeat every 10 s
KEEP_FINISHED_HOURS = 24 * 7


async def recover_stalled_jobs(seconds_since_heartbeat: float = STALLED_AFTER_SECONDS) -> int:
    """Put jobs whose worker died (no heartbeat) back in the queue; returns how many."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        await app.job_manager.retry_job(job)
    if stalled:
        log.warning("stalled_jobs_requeued", count=len(stalled), ids=[j.id for j in stalled])
    return len(stalled)


@periodic("* * * * *", name="jobs.recover_stalled")
async def recover_stalled(timestamp: int) -> None:
    await recover_stalled_jobs()


@periodic("17 3 * * *", name="jobs.delete_old")
async def delete_old(timestamp: int) -> None:
    """Failed jobs are kept: the dead-letter tables point at them for diagnosis."""
    await app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_HOURS, include_failed=False)
