from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from ludus.cli.main import app
from ludus.core.kit.db import Database
from ludus.core.notifications.models import Channel
from ludus.core.notifications.service import send_now
from tests.core.notifications.support import tenant_with


class TestCli:
    async def test_list_shows_sandbox_messages_filtered_by_tenant_and_channel(
        self, db: Database
    ) -> None:
        tenant = await tenant_with(db)
        async with db.session(tenant_id=tenant.id) as s:
            await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254733333333",
                body="Your code is 424242",
                kind="otp",
            )
            await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.email,
                recipient="cli@example.test",
                body="hello",
                kind="welcome",
                subject="Welcome aboard",
            )
        slug = tenant.slug
        runner = CliRunner()

        def invoke(*args: str) -> Result:  # the CLI runs its own event loop: use a thread
            return runner.invoke(app, list(args))

        result = await asyncio.to_thread(invoke, "notifications", "list", "--tenant", slug)
        assert result.exit_code == 0, result.output
        assert "+254733333333" in result.output and "cli@example.test" in result.output
        assert "2 message(s)" in result.output
        sms_only = await asyncio.to_thread(
            invoke, "notifications", "list", "--tenant", slug, "--channel", "sms"
        )
        assert "Your code is 424242" in sms_only.output
        assert "cli@example.test" not in sms_only.output
        assert "1 message(s)" in sms_only.output
        unknown = await asyncio.to_thread(invoke, "notifications", "list", "--tenant", "nope-x")
        assert unknown.exit_code != 0
