"""The real server process, and readiness when the database is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from httpx import AsyncClient

from ludus.core.kit.db import Database

LUDUS = Path(sys.executable).parent / "ludus"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestServeProcess:
    def test_ludus_serve_answers_ready(self, database_url: str, tmp_path: Path) -> None:
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "LUDUS_DATA_DIR": str(tmp_path)}
        proc = subprocess.Popen(
            [str(LUDUS), "serve", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    resp = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.2)
            assert resp.status_code == 200
            assert resp.json() == {"status": "ok", "checks": {"database": "ok"}}
            assert resp.headers["x-request-id"]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


class TestReadiness:
    async def test_ready_is_503_when_database_is_down(
        self, client: AsyncClient, monkeypatch
    ) -> None:
        port = _free_port()  # nothing listens there
        dead = Database(f"postgresql://postgres@127.0.0.1:{port}/none?connect_timeout=1")
        monkeypatch.setattr("ludus.core.observability.api.get_database", lambda: dead)
        try:
            resp = await client.get("/health/ready")
        finally:
            await dead.dispose()
        assert resp.status_code == 503
        assert resp.json()["status"] == "unavailable"
        assert (await client.get("/health/live")).status_code == 200
