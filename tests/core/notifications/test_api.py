from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from twilio.request_validator import RequestValidator

from ludus.core.auth.models import Role
from ludus.core.kit.db import Database
from ludus.core.kit.settings import get_settings
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.service import notify, send_now
from ludus.core.tenancy.models import Tenant
from tests.core.notifications.support import key, template, tenant_with, user_in
from tests.factories import Actor, make_actor, token_for


async def _actor(db: Database, tenant: Tenant, role: Role = Role.member) -> Actor:
    user = await user_in(db, tenant, role)
    return Actor(user, tenant, role, await token_for(db, user, tenant, role))


async def _in_app(
    db: Database, tenant: Tenant, user_id: uuid.UUID, k: str, n: int
) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        async with db.session(tenant_id=tenant.id) as s:
            (m,) = await notify(
                s,
                tenant_id=tenant.id,
                user_id=user_id,
                kind="engagement.badge",
                template_key=k,
                context={"i": i},
                channels=[Channel.in_app],
            )
            ids.append(m.id)
    return ids


class TestInbox:
    async def test_list_unread_read_and_read_all(self, db: Database, client: AsyncClient) -> None:
        tenant = await tenant_with(db)
        me, other = await _actor(db, tenant), await _actor(db, tenant)
        k = key()
        await template(db, tenant, k, Channel.in_app, "Badge {{ i }}", subject="New badge")
        mine = await _in_app(db, tenant, me.user.id, k, 3)
        theirs = await _in_app(db, tenant, other.user.id, k, 1)

        listed = await client.get("/api/v1/notifications?limit=2", headers=me.headers)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert [i["id"] for i in body["data"]["items"]] == [str(mine[2]), str(mine[1])]
        assert body["data"]["items"][0]["body"] == "Badge 2"
        assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "has_more": True}

        count = await client.get("/api/v1/notifications/unread-count", headers=me.headers)
        assert count.json()["data"] == {"count": 3}

        read = await client.post(f"/api/v1/notifications/{mine[0]}/read", headers=me.headers)
        assert read.status_code == 200 and read.json()["data"]["read_at"]
        again = await client.post(f"/api/v1/notifications/{mine[0]}/read", headers=me.headers)
        assert again.json()["data"]["read_at"] == read.json()["data"]["read_at"]
        unread = await client.get("/api/v1/notifications?unread=true", headers=me.headers)
        assert {i["id"] for i in unread.json()["data"]["items"]} == {str(mine[1]), str(mine[2])}

        # Someone else's notification is not found, and nothing changes.
        foreign = await client.post(f"/api/v1/notifications/{theirs[0]}/read", headers=me.headers)
        assert foreign.status_code == 404
        assert foreign.json()["error"]["code"] == "NOT_FOUND"

        all_read = await client.post("/api/v1/notifications/read-all", headers=me.headers)
        assert all_read.json()["data"] == {"updated": 2}
        count = await client.get("/api/v1/notifications/unread-count", headers=me.headers)
        assert count.json()["data"] == {"count": 0}
        theirs_count = await client.get("/api/v1/notifications/unread-count", headers=other.headers)
        assert theirs_count.json()["data"] == {"count": 1}

    async def test_needs_a_signed_in_user(self, client: AsyncClient) -> None:
        resp = await client.get("/api/v1/notifications")
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"


class TestPreferencesApi:
    async def test_put_and_get_preferences_then_notify_respects_them(
        self, db: Database, client: AsyncClient
    ) -> None:
        tenant = await tenant_with(db)
        me = await _actor(db, tenant)
        payload = {
            "preferences": [
                {"kind": "marketing", "channel": "whatsapp", "enabled": False},
                {"kind": "*", "channel": "sms", "enabled": False},
            ],
            "quiet_hours": {"start": "22:00", "end": "06:30"},
        }
        put = await client.put(
            "/api/v1/notifications/preferences", json=payload, headers=me.headers
        )
        assert put.status_code == 200, put.text
        data = put.json()["data"]
        assert {(p["kind"], p["channel"], p["enabled"]) for p in data["preferences"]} == {
            ("marketing", "whatsapp", False),
            ("*", "sms", False),
        }
        assert data["quiet_hours"] == {"start": "22:00:00", "end": "06:30:00"}
        got = await client.get("/api/v1/notifications/preferences", headers=me.headers)
        assert got.json()["data"] == data

        k = key()
        await template(db, tenant, k, Channel.sms, "s")
        await template(db, tenant, k, Channel.whatsapp, "w")
        async with db.session(tenant_id=tenant.id) as s:
            sent = await notify(
                s,
                tenant_id=tenant.id,
                user_id=me.user.id,
                kind="marketing.winback",
                template_key=k,
                context={},
            )
        assert {m.channel: m.status for m in sent} == {
            Channel.sms: MessageStatus.skipped,
            Channel.whatsapp: MessageStatus.skipped,
        }

    async def test_bad_input_is_refused(self, db: Database, client: AsyncClient) -> None:
        tenant = await tenant_with(db)
        me = await _actor(db, tenant)
        for payload in (
            {"preferences": [{"kind": "Bad Kind!", "channel": "sms", "enabled": False}]},
            {"preferences": [{"kind": "x", "channel": "fax", "enabled": False}]},
            {"quiet_hours": {"start": "22:00"}},
            {"unknown": 1},
        ):
            resp = await client.put(
                "/api/v1/notifications/preferences", json=payload, headers=me.headers
            )
            assert resp.status_code == 422, payload
            assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        got = await client.get("/api/v1/notifications/preferences", headers=me.headers)
        assert got.json()["data"]["preferences"] == []


class TestDevicesApi:
    async def test_register_is_idempotent_and_moves_to_the_last_user(
        self, db: Database, client: AsyncClient
    ) -> None:
        tenant = await tenant_with(db)
        first, second = await _actor(db, tenant), await _actor(db, tenant)
        body = {"token": "fcm-token-abcdefghij", "platform": "android"}
        one = await client.post("/api/v1/notifications/devices", json=body, headers=first.headers)
        two = await client.post("/api/v1/notifications/devices", json=body, headers=first.headers)
        assert one.status_code == two.status_code == 200
        assert one.json()["data"]["id"] == two.json()["data"]["id"]
        moved = await client.post(
            "/api/v1/notifications/devices", json=body, headers=second.headers
        )
        assert moved.json()["data"]["id"] == one.json()["data"]["id"]
        gone = await client.delete(
            f"/api/v1/notifications/devices/{body['token']}", headers=first.headers
        )
        assert gone.status_code == 404
        removed = await client.delete(
            f"/api/v1/notifications/devices/{body['token']}", headers=second.headers
        )
        assert removed.status_code == 200


class TestAdminMessages:
    async def test_tenant_admin_sees_own_tenant_with_filters(
        self, db: Database, client: AsyncClient
    ) -> None:
        tenant, other = await tenant_with(db), await tenant_with(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        member = await _actor(db, tenant)
        async with db.session(tenant_id=tenant.id) as s:
            await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254711111111",
                body="code 1",
                kind="otp",
            )
            await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.email,
                recipient="a@x.test",
                body="hello",
                kind="welcome",
                subject="Hi",
            )
        async with db.session(tenant_id=other.id) as s:
            await send_now(
                s,
                tenant_id=other.id,
                channel=Channel.sms,
                recipient="+254711111111",
                body="other tenant",
                kind="otp",
            )

        resp = await client.get("/api/v1/admin/notifications/messages", headers=admin.headers)
        assert resp.status_code == 200, resp.text
        items = resp.json()["data"]["items"]
        assert {i["tenant_id"] for i in items} == {str(tenant.id)}
        assert len(items) == 2
        sms = await client.get(
            "/api/v1/admin/notifications/messages",
            params={"channel": "sms", "recipient": "+254711111111", "kind": "otp"},
            headers=admin.headers,
        )
        (only,) = sms.json()["data"]["items"]
        assert only["body"] == "code 1" and only["provider"] == "sandbox"
        # A tenant admin cannot look into another tenant.
        sneaky = await client.get(
            "/api/v1/admin/notifications/messages",
            params={"tenant_id": str(other.id)},
            headers=admin.headers,
        )
        assert {i["tenant_id"] for i in sneaky.json()["data"]["items"]} == {str(tenant.id)}
        forbidden = await client.get("/api/v1/admin/notifications/messages", headers=member.headers)
        assert forbidden.status_code == 403

    async def test_templates_admin(self, db: Database, client: AsyncClient) -> None:
        tenant = await tenant_with(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        k = key()
        body = {"key": k, "channel": "sms", "locale": "sw_KE", "body": "Habari {{ name }}"}
        put = await client.put(
            "/api/v1/admin/notifications/templates", json=body, headers=admin.headers
        )
        assert put.status_code == 200, put.text
        assert put.json()["data"]["locale"] == "sw-KE"
        assert put.json()["data"]["tenant_id"] == str(tenant.id)
        replaced = await client.put(
            "/api/v1/admin/notifications/templates",
            json={**body, "body": "Hujambo {{ name }}"},
            headers=admin.headers,
        )
        assert replaced.json()["data"]["id"] == put.json()["data"]["id"]
        bad = await client.put(
            "/api/v1/admin/notifications/templates",
            json={**body, "body": "{% for %}"},
            headers=admin.headers,
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "NOTIFICATION_TEMPLATE_INVALID"
        listed = await client.get(
            "/api/v1/admin/notifications/templates", params={"key": k}, headers=admin.headers
        )
        (row,) = listed.json()["data"]["items"]
        assert row["body"] == "Hujambo {{ name }}"
        deleted = await client.delete(
            f"/api/v1/admin/notifications/templates/{row['id']}", headers=admin.headers
        )
        assert deleted.status_code == 200


class TestTwilioCallback:
    async def _sent(self, db: Database, tenant: Tenant, provider: str, pid: str) -> uuid.UUID:
        async with db.session(tenant_id=tenant.id) as s:
            m = NotificationMessage(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                channel=Channel.sms,
                kind="otp",
                recipient="+254722222222",
                body="x",
                data={},
                status=MessageStatus.sent,
                provider=provider,
                provider_message_id=pid,
                attempts=1,
            )
            s.add(m)
        return m.id

    async def _status(self, db: Database, message_id: uuid.UUID) -> NotificationMessage:
        async with db.session(system=True) as s:
            found = await s.get(NotificationMessage, message_id)
            assert found is not None
            return found

    async def test_signed_callback_updates_status_and_bad_signature_is_401(
        self, db: Database, client: AsyncClient
    ) -> None:
        tenant = await tenant_with(db, {"twilio": {"account_sid": "AC1", "auth_token": "tw-token"}})
        message_id = await self._sent(db, tenant, "twilio", "SM" + uuid.uuid4().hex)
        message = await self._status(db, message_id)
        path = f"/api/v1/notifications/callbacks/twilio/{tenant.slug}"
        url = get_settings().public_base_url.rstrip("/") + path
        params: dict[str, Any] = {
            "MessageSid": message.provider_message_id,
            "MessageStatus": "delivered",
            "AccountSid": "AC1",
        }

        forged = await client.post(path, data=params, headers={"X-Twilio-Signature": "bm9wZQ=="})
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "INVALID_SIGNATURE"
        wrong_key = RequestValidator("other-token").compute_signature(url, params)
        forged2 = await client.post(path, data=params, headers={"X-Twilio-Signature": wrong_key})
        assert forged2.status_code == 401
        unsigned = await client.post(path, data=params)
        assert unsigned.status_code == 401
        untouched = await self._status(db, message_id)
        assert untouched.status == MessageStatus.sent and "provider_statuses" not in untouched.data

        signature = RequestValidator("tw-token").compute_signature(url, params)
        ok = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        assert ok.status_code == 200, ok.text
        assert ok.json()["data"] == {"recorded": True}
        delivered = await self._status(db, message_id)
        assert delivered.status == MessageStatus.delivered
        assert [h["status"] for h in delivered.data["provider_statuses"]] == ["delivered"]

        # A late "sent" or "failed" never moves a delivered message backwards.
        late = {**params, "MessageStatus": "failed", "ErrorCode": "30003"}
        sig = RequestValidator("tw-token").compute_signature(url, late)
        await client.post(path, data=late, headers={"X-Twilio-Signature": sig})
        assert (await self._status(db, message_id)).status == MessageStatus.delivered

    async def test_failed_report_and_unknown_sid(self, db: Database, client: AsyncClient) -> None:
        tenant = await tenant_with(db, {"twilio": {"auth_token": "tw-token"}})
        message_id = await self._sent(db, tenant, "twilio", "SMfail" + uuid.uuid4().hex[:8])
        message = await self._status(db, message_id)
        path = f"/api/v1/notifications/callbacks/twilio/{tenant.slug}"
        url = get_settings().public_base_url.rstrip("/") + path
        for sid, expected in ((message.provider_message_id, True), ("SMunknown", False)):
            params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30005"}
            sig = RequestValidator("tw-token").compute_signature(url, params)
            resp = await client.post(path, data=params, headers={"X-Twilio-Signature": sig})
            assert resp.json()["data"] == {"recorded": expected}
        failed = await self._status(db, message_id)
        assert (failed.status, failed.error) == (MessageStatus.failed, "30005")
        unknown_tenant = await client.post(
            "/api/v1/notifications/callbacks/twilio/no-such-tenant", data={"MessageSid": "x"}
        )
        assert unknown_tenant.status_code == 404


class TestAfricasTalkingCallback:
    async def test_token_checked_and_status_recorded(
        self, db: Database, client: AsyncClient
    ) -> None:
        tenant = await tenant_with(db, {"africastalking": {"callback_token": "at-cb-secret"}})
        pid = "ATXid_" + uuid.uuid4().hex
        message_id = await TestTwilioCallback()._sent(db, tenant, "africastalking", pid)
        path = f"/api/v1/notifications/callbacks/africastalking/{tenant.slug}"
        form = {
            "id": pid,
            "status": "Success",
            "phoneNumber": "+254722222222",
            "networkCode": "63902",
        }
        bad = await client.post(path + "?token=wrong", data=form)
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "INVALID_SIGNATURE"
        assert (await client.post(path, data=form)).status_code == 401
        assert (await TestTwilioCallback()._status(db, message_id)).status == MessageStatus.sent
        good = await client.post(path + "?token=at-cb-secret", data=form)
        assert good.json()["data"] == {"recorded": True}
        assert (
            await TestTwilioCallback()._status(db, message_id)
        ).status == MessageStatus.delivered
