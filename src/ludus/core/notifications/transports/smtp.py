"""Email over SMTP with the standard library, run in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from ludus.core.notifications.providers import OutgoingMessage, ProviderError, SendResult


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.host = str(settings.get("host") or "127.0.0.1")
        self.port = int(settings.get("port") or 25)
        self.username = settings.get("username")
        self.password = settings.get("password")
        self.sender = str(settings.get("from") or "no-reply@ludus.local")
        self.starttls = bool(settings.get("starttls", False))
        self.use_ssl = bool(settings.get("ssl", False))
        self.timeout = float(settings.get("timeout") or 10.0)

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        domain = self.sender.rsplit("@", 1)[-1].strip("> ") or "ludus.local"
        email["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
        if message.reference:
            email["X-Ludus-Message-Id"] = message.reference
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def _send_sync(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.use_ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.starttls and not self.use_ssl:
                client.starttls(context=context)
            if self.username and self.password:
                client.login(str(self.username), str(self.password))
            client.send_message(email)

    async def send(self, message: OutgoingMessage) -> SendResult:
        email = self.build(message)
        try:
            await asyncio.to_thread(self._send_sync, email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ProviderError(f"smtp recipient refused: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx replies are permanent per RFC 5321; 4xx are worth another try.
            raise ProviderError(
                f"smtp {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ProviderError(f"smtp failed: {type(exc).__name__}: {exc}") from exc
        return SendResult(self.name, str(email["Message-ID"]).strip("<>"))
