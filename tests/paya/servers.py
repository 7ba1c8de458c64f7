"""Real `uvicorn` server processes against the test database (for cross-process tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.paya.fake_providers import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 120.0


@contextmanager
def api_servers(count: int, extra_env: dict[str, str] | None = None) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "LUDUS_RUN_WORKER_IN_PROCESS": "false",
        "LUDUS_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    procs: list[subprocess.Popen[bytes]] = []
    logs = tempfile.TemporaryFile()  # noqa: SIM115 -- not a pipe: a chatty server never blocks
    urls: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "ludus.app:create_app",
                        "--factory",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=logs,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            _wait_ready(url, proc, logs)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], logs: IO[bytes]) -> None:
    """Poll the cheap liveness probe until the app serves (a loaded machine may take tens of
    seconds to import it), then check the database once through the readiness probe."""
    deadline = time.monotonic() + READY_SECONDS
    path = "/health/live"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logs.seek(0)
            err = logs.read().decode(errors="replace")
            raise RuntimeError(f"server exited: {err[-2000:]}")
        try:
            if httpx.get(f"{url}{path}", timeout=5).status_code == 200:
                if path == "/health/ready":
                    return
                path = "/health/ready"
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready within {READY_SECONDS} s")
