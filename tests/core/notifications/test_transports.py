"""Real SMTP and HTTP deliveries against local servers (aiosmtpd, fake provider APIs)."""

from __future__ import annotations

import base64
import email
import socket
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ludus.core.kit.db import Database
from ludus.core.notifications import delivery, manage
from ludus.core.notifications import repository as manage_repo
from ludus.core.notifications.delivery import Outcome
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.providers import OutgoingMessage, ProviderError
from ludus.core.notifications.service import notify, send_now
from ludus.core.notifications.transports.fcm import FcmProvider, ServiceAccountTokenProvider
from ludus.core.tenancy.models import Tenant
from tests.core.notifications.support import (
    FakeServer,
    Recorded,
    key,
    template,
    tenant_with,
    user_in,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def _send_one(
    db: Database,
    tenant: Tenant,
    channel: Channel,
    body: str,
    subject: str | None = None,
    *,
    device: str | None = None,
) -> uuid.UUID:
    user = await user_in(db, tenant)
    k = key()
    await template(db, tenant, k, channel, body, subject=subject)
    async with db.session(tenant_id=tenant.id) as s:
        if device:
            await manage.register_device(
                s, tenant_id=tenant.id, user_id=user.id, token=device, platform="android"
            )
        (message,) = await notify(
            s,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="test.kind",
            template_key=k,
            context={"name": "Wanjiru"},
            channels=[channel],
        )
    return message.id


async def _load(db: Database, message_id: uuid.UUID) -> NotificationMessage:
    async with db.session(system=True) as s:
        found = await s.get(NotificationMessage, message_id)
        assert found is not None
        return found


class TestSmtp:
    async def test_email_really_arrives(
        self, db: Database, smtp_server: tuple[Controller, Inbox]
    ) -> None:
        controller, inbox = smtp_server
        tenant = await tenant_with(
            db,
            {
                "channels": {"email": "smtp"},
                "smtp": {
                    "host": "127.0.0.1",
                    "port": controller.port,
                    "from": "Akiba <hello@akiba.test>",
                },
            },
            theme={"brand_name": "Akiba"},
        )
        message_id = await _send_one(
            db,
            tenant,
            Channel.email,
            "<p>Habari {{ name }},</p><p>Welcome to {{ brand_name }} &amp; friends</p>",
            subject="Welcome to {{ brand_name }}",
        )
        assert await delivery.deliver(message_id) == Outcome.sent
        (mail_from, rcpts, parsed) = inbox.received[0]
        message = await _load(db, message_id)
        assert mail_from == "hello@akiba.test"
        assert rcpts == [message.recipient]
        assert parsed["Subject"] == "Welcome to Akiba"
        assert parsed["X-Ludus-Message-Id"] == str(message_id)
        assert message.provider == "smtp"
        assert parsed["Message-ID"].strip("<>") == message.provider_message_id
        parts = {
            part.get_content_type(): bytes(part.get_payload(decode=True)).decode()
            for part in parsed.walk()
            if not part.is_multipart()
        }
        assert "<p>Habari Wanjiru,</p>" in parts["text/html"]
        assert "Habari Wanjiru," in parts["text/plain"] and "<p>" not in parts["text/plain"]
        assert "Welcome to Akiba & friends" in parts["text/plain"]

    async def test_unreachable_server_is_a_transient_failure(self, db: Database) -> None:
        tenant = await tenant_with(
            db, {"channels": {"email": "smtp"}, "smtp": {"host": "127.0.0.1", "port": _free_port()}}
        )
        message_id = await _send_one(db, tenant, Channel.email, "hi", subject="s")
        assert await delivery.deliver(message_id) == Outcome.retry
        message = await _load(db, message_id)
        assert message.status == MessageStatus.queued
        assert "smtp failed" in (message.error or "")


def _twilio(rec: Recorded) -> tuple[int, dict[str, Any]]:
    if rec.form.get("To", "").endswith("+15005550001"):
        return 400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
    return 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}


@pytest.fixture
def twilio_server() -> Iterator[FakeServer]:
    server = FakeServer(_twilio)
    yield server
    server.close()


class TestTwilio:
    def _tenant_config(self, base_url: str) -> dict[str, Any]:
        return {
            "channels": {"sms": "twilio", "whatsapp": "twilio"},
            "twilio": {
                "account_sid": "AC123",
                "auth_token": "secret-token",
                "from": "+15550001111",
                "whatsapp_from": "+15550002222",
                "base_url": base_url,
            },
        }

    async def test_sms_and_whatsapp_reach_the_messages_api(
        self, db: Database, twilio_server: FakeServer
    ) -> None:
        tenant = await tenant_with(db, self._tenant_config(twilio_server.base_url))
        sms_id = await _send_one(db, tenant, Channel.sms, "Hi {{ name }}")
        wa_id = await _send_one(db, tenant, Channel.whatsapp, "WA {{ name }}")
        assert await delivery.deliver(sms_id) == Outcome.sent
        assert await delivery.deliver(wa_id) == Outcome.sent
        sms_req, wa_req = twilio_server.requests
        assert sms_req.path == "/2010-04-01/Accounts/AC123/Messages.json"
        expected_auth = "Basic " + base64.b64encode(b"AC123:secret-token").decode()
        assert sms_req.headers["Authorization"] == expected_auth
        sms = await _load(db, sms_id)
        assert sms_req.form["To"] == sms.recipient and sms_req.form["From"] == "+15550001111"
        assert sms_req.form["Body"] == "Hi Wanjiru"
        assert sms_req.form["StatusCallback"].endswith(
            f"/api/v1/notifications/callbacks/twilio/{tenant.slug}"
        )
        wa = await _load(db, wa_id)
        assert wa_req.form["To"] == f"whatsapp:{wa.recipient}"
        assert wa_req.form["From"] == "whatsapp:+15550002222"
        assert (sms.provider, sms.status) == ("twilio", MessageStatus.sent)
        assert (sms.provider_message_id or "").startswith("SM")

    async def test_otp_through_a_real_provider_is_not_kept_readable(
        self, db: Database, twilio_server: FakeServer
    ) -> None:
        tenant = await tenant_with(db, self._tenant_config(twilio_server.base_url))
        async with db.session(tenant_id=tenant.id) as s:
            message = await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254744444444",
                body="918273 is your code",
                kind="otp",
            )
        (req,) = twilio_server.requests
        assert req.form["Body"] == "918273 is your code"
        stored = await _load(db, message.id)
        assert stored.status == MessageStatus.sent and stored.provider == "twilio"
        assert "918273" not in stored.body

    async def test_invalid_number_is_permanent(
        self, db: Database, twilio_server: FakeServer
    ) -> None:
        tenant = await tenant_with(db, self._tenant_config(twilio_server.base_url))
        user = await user_in(db, tenant, phone="+15005550001")
        k = key()
        await template(db, tenant, k, Channel.sms, "hi")
        async with db.session(tenant_id=tenant.id) as s:
            (message,) = await notify(
                s, tenant_id=tenant.id, user_id=user.id, kind="k", template_key=k, context={}
            )
        assert await delivery.deliver(message.id) == Outcome.failed
        assert "HTTP 400" in ((await _load(db, message.id)).error or "")


def _africastalking(rec: Recorded) -> tuple[int, dict[str, Any]]:
    to = rec.form["to"]
    code, status = (403, "InvalidPhoneNumber") if to.endswith("0000") else (101, "Success")
    return 201, {
        "SMSMessageData": {
            "Message": "Sent to 1/1",
            "Recipients": [
                {
                    "statusCode": code,
                    "number": to,
                    "status": status,
                    "cost": "KES 0.8000",
                    "messageId": "ATXid_" + uuid.uuid4().hex,
                }
            ],
        }
    }


class TestAfricasTalking:
    async def test_sms_reaches_the_messaging_api(self, db: Database) -> None:
        server = FakeServer(_africastalking)
        try:
            tenant = await tenant_with(
                db,
                {
                    "channels": {"sms": "africastalking"},
                    "africastalking": {
                        "username": "sandbox",
                        "api_key": "at-key",
                        "from": "AKIBA",
                        "base_url": server.base_url,
                    },
                },
            )
            message_id = await _send_one(db, tenant, Channel.sms, "Karibu {{ name }}")
            assert await delivery.deliver(message_id) == Outcome.sent
            (req,) = server.requests
            message = await _load(db, message_id)
            assert req.path == "/version1/messaging"
            assert req.headers["apiKey"] == "at-key"
            assert req.headers["Accept"] == "application/json"
            assert req.form == {
                "username": "sandbox",
                "to": message.recipient,
                "message": "Karibu Wanjiru",
                "from": "AKIBA",
            }
            assert (message.provider_message_id or "").startswith("ATXid_")

            user = await user_in(db, tenant, phone="+254700000000")
            k = key()
            await template(db, tenant, k, Channel.sms, "x")
            async with db.session(tenant_id=tenant.id) as s:
                (bad,) = await notify(
                    s, tenant_id=tenant.id, user_id=user.id, kind="k", template_key=k, context={}
                )
            assert await delivery.deliver(bad.id) == Outcome.failed
            assert "InvalidPhoneNumber" in ((await _load(db, bad.id)).error or "")
        finally:
            server.close()


class TestFcm:
    async def test_push_reaches_the_v1_send_api(self, db: Database) -> None:
        def respond(rec: Recorded) -> tuple[int, dict[str, Any]]:
            if rec.headers.get("Authorization") != "Bearer static-token":
                return 401, {"error": {"status": "UNAUTHENTICATED"}}
            return 200, {"name": "projects/ludus-test/messages/0:1234"}

        server = FakeServer(respond)
        try:
            tenant = await tenant_with(
                db,
                {
                    "channels": {"push": "fcm"},
                    "fcm": {
                        "project_id": "ludus-test",
                        "access_token": "static-token",
                        "base_url": server.base_url,
                    },
                },
            )
            message_id = await _send_one(
                db,
                tenant,
                Channel.push,
                "Streak at risk, {{ name }}",
                subject="{{ brand_name }}",
                device="fcm-device-token-1",
            )
            assert await delivery.deliver(message_id) == Outcome.sent
            (req,) = server.requests
            assert req.path == "/v1/projects/ludus-test/messages:send"
            assert req.json == {
                "message": {
                    "token": "fcm-device-token-1",
                    "notification": {"title": "Test", "body": "Streak at risk, Wanjiru"},
                    "data": {"message_id": str(message_id)},
                }
            }
            assert (await _load(db, message_id)).provider_message_id == "0:1234"
        finally:
            server.close()

    async def test_unregistered_token_fails_and_is_forgotten(self, db: Database) -> None:
        def respond(rec: Recorded) -> tuple[int, dict[str, Any]]:
            return 404, {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                            "errorCode": "UNREGISTERED",
                        }
                    ],
                }
            }

        server = FakeServer(respond)
        try:
            tenant = await tenant_with(
                db,
                {
                    "channels": {"push": "fcm"},
                    "fcm": {"project_id": "p", "access_token": "t", "base_url": server.base_url},
                },
            )
            message_id = await _send_one(
                db, tenant, Channel.push, "hi", subject="s", device="stale-device-token"
            )
            assert await delivery.deliver(message_id) == Outcome.failed
            async with db.session(system=True) as s:
                assert (
                    await manage_repo.get_device(s, tenant_id=tenant.id, token="stale-device-token")
                    is None
                )
        finally:
            server.close()

    async def test_service_account_token_exchange(self) -> None:
        key_obj = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key_obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = key_obj.public_key()
        seen: list[dict[str, Any]] = []

        def respond(rec: Recorded) -> tuple[int, dict[str, Any]]:
            if rec.path == "/token":
                claims = jwt.decode(
                    rec.form["assertion"], public, algorithms=["RS256"], audience=token_uri
                )
                seen.append(claims)
                return 200, {"access_token": "exchanged", "expires_in": 3600}
            ok = rec.headers.get("Authorization") == "Bearer exchanged"
            return (200, {"name": "projects/p/messages/9"}) if ok else (401, {})

        server = FakeServer(respond)
        token_uri = server.base_url + "/token"
        try:
            account = {
                "client_email": "fcm@p.iam.example",
                "private_key": pem,
                "token_uri": token_uri,
            }
            tokens = ServiceAccountTokenProvider(account)
            assert await tokens.access_token() == "exchanged"
            assert await tokens.access_token() == "exchanged"  # cached
            assert len(seen) == 1 and seen[0]["iss"] == "fcm@p.iam.example"
            assert seen[0]["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
            provider = FcmProvider({"project_id": "p", "base_url": server.base_url})
            from ludus.core.notifications.transports import fcm

            fcm.set_token_provider(tokens)
            try:
                result = await provider.send(OutgoingMessage(Channel.push, "tok", "t", "b"))
            finally:
                fcm.set_token_provider(None)
            assert result.provider_message_id == "9"
        finally:
            server.close()

    async def test_missing_credentials_are_permanent(self) -> None:
        with pytest.raises(ProviderError) as caught:
            await FcmProvider({"project_id": "p"}).send(
                OutgoingMessage(Channel.push, "t", None, "b")
            )
        assert caught.value.permanent
