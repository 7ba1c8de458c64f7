from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import Database
from ludus.core.kit.money import Money
from ludus.core.notifications import manage, templates
from ludus.core.notifications.models import Channel
from ludus.core.notifications.templates import TemplateInvalid, TemplateSource
from tests.core.notifications.support import key, template, tenant_with


async def _render(session: AsyncSession, tenant, tkey: str, locale: str | None, **ctx):  # type: ignore[no-untyped-def]
    source = await templates.find_template(
        session,
        tenant_id=tenant.id,
        key=tkey,
        channel=Channel.sms,
        locales=templates.locale_chain(locale, tenant.default_locale),
    )
    assert source is not None
    return templates.render(source, ctx, tenant=tenant, locale=locale)


class TestLocaleChain:
    def test_region_then_language_then_tenant_default_then_english(self) -> None:
        assert templates.locale_chain("sw_ke", "es-PE") == ["sw-KE", "sw", "es-PE", "es", "en"]
        assert templates.locale_chain(None, None) == ["en"]
        assert templates.locale_chain("en-US", "en") == ["en-US", "en"]


class TestLookup:
    async def test_tenant_template_beats_platform_and_locale_falls_back(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db, theme={"brand_name": "Chama Poa", "coin_name": "Pesa"})
        other = await tenant_with(db)
        k = key()
        await template(db, None, k, Channel.sms, "platform en {{ brand_name }}")
        await template(db, None, k, Channel.sms, "platform sw {{ brand_name }}", locale="sw")
        await template(db, tenant, k, Channel.sms, "tenant en {{ brand_name }}")
        await template(db, other, k, Channel.sms, "other tenant sw", locale="sw-KE")

        # sw-KE has no template for this tenant (the other tenant's is invisible): sw wins.
        assert (await _render(session, tenant, k, "sw-KE")).body == "platform sw Chama Poa"
        # English: the tenant's own template beats the platform default.
        assert (await _render(session, tenant, k, "en")).body == "tenant en Chama Poa"
        # Unknown locale falls back through the tenant default to English.
        assert (await _render(session, tenant, k, "fr-FR")).body == "tenant en Chama Poa"
        assert (await _render(session, other, k, "sw-KE")).body == "other tenant sw"

    async def test_code_default_is_the_last_resort(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        k = key()
        templates.register_default(k, Channel.sms, "en", "code default {{ n }}")
        assert (await _render(session, tenant, k, "sw", n=1)).body == "code default 1"
        await template(db, None, k, Channel.sms, "db default {{ n }}")
        assert (await _render(session, tenant, k, "sw", n=2)).body == "db default 2"
        assert await templates.channels_with_template(session, tenant_id=tenant.id, key=k) == [
            Channel.sms
        ]


class TestRendering:
    async def test_branding_and_localised_money(self, db: Database, session: AsyncSession) -> None:
        tenant = await tenant_with(
            db, theme={"brand_name": "Akiba", "coin_name": "Nyota", "primary_color": "#112233"}
        )
        k = key()
        body = (
            "{{ brand.name }} {{ brand.primary_color }}: {{ deposit | money }}; "
            "{{ 1234567 | money('USD') }}; {{ reward | money }}"
        )
        await template(db, tenant, k, Channel.sms, body)
        out = await _render(
            session,
            tenant,
            k,
            "en-US",
            deposit={"amount": 150050, "asset": "KES"},
            reward=Money(25, "COIN"),
        )
        # CLDR puts no space between an ISO code and the amount in en-US.
        assert out.body == "Akiba #112233: KES1,500.50; $12,345.67; 25 Nyota"
        es = await _render(
            session, tenant, k, "es-PE", deposit=Money(150050, "PEN"), reward=Money(3, "POINT")
        )
        normalised = es.body.replace("\xa0", " ")
        assert "S/ 1,500.50" in normalised and "$12,345.67" not in normalised
        assert "3 point" in normalised

    async def test_email_html_is_autoescaped_and_sms_is_not(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        source = TemplateSource(Channel.email, "en", "Hi {{ name }}", "<p>Hi {{ name }}</p>")
        out = templates.render(source, {"name": "<b>Ann & co</b>"}, tenant=tenant)
        assert out.body == "<p>Hi &lt;b&gt;Ann &amp; co&lt;/b&gt;</p>"
        assert out.subject == "Hi <b>Ann & co</b>"  # subjects are plain text
        assert out.html is True
        sms = TemplateSource(Channel.sms, "en", None, "Hi {{ name }}")
        assert templates.render(sms, {"name": "<b>"}, tenant=tenant).body == "Hi <b>"


class TestSandbox:
    @pytest.mark.parametrize(
        "body",
        [
            "{{ name.__class__ }}",
            "{{ name.__class__.__mro__[1].__subclasses__() }}",
            "{{ ''.__class__.__base__ }}",
            "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
            "{{ cycler.__init__.__globals__ }}",
            "{{ missing_variable }}",
            "{{ name.upper.__self__ }}",
            "{% set x = [] %}{{ x.append(1) }}",
        ],
    )
    async def test_unsafe_or_broken_templates_fail_safely(self, db: Database, body: str) -> None:
        tenant = await tenant_with(db)
        source = TemplateSource(Channel.sms, "en", None, body)
        with pytest.raises(TemplateInvalid) as caught:
            templates.render(source, {"name": "Ann"}, tenant=tenant)
        assert caught.value.code == "NOTIFICATION_TEMPLATE_INVALID"
        assert caught.value.status_code == 422

    async def test_syntax_errors_are_refused_when_saving(self, session: AsyncSession) -> None:
        with pytest.raises(TemplateInvalid):
            await manage.upsert_template(
                session,
                tenant_id=None,
                key=key(),
                channel=Channel.sms,
                locale="en",
                subject=None,
                body="{% if %}",
            )


class TestDatetimeFilter:
    async def test_datetime_in_user_timezone_and_locale(self, db: Database) -> None:
        from datetime import UTC, datetime

        tenant = await tenant_with(db)
        source = TemplateSource(Channel.sms, "en", None, "{{ at | datetime('HH:mm') }}")
        out = templates.render(
            source,
            {"at": datetime(2026, 1, 1, 12, 0, tzinfo=UTC)},
            tenant=tenant,
            timezone="Africa/Nairobi",
        )
        assert out.body == "15:00"
        assert time(15, 0).strftime("%H:%M") == out.body


class TestTemplateRowSecurity:
    async def test_tenant_reads_own_and_platform_rows_but_changes_only_its_own(
        self, db: Database
    ) -> None:
        from sqlalchemy import delete, select

        from ludus.core.notifications.models import NotificationTemplate

        tenant, other = await tenant_with(db), await tenant_with(db)
        k = key()
        await template(db, None, k, Channel.sms, "platform")
        await template(db, tenant, k, Channel.sms, "mine")
        await template(db, other, k, Channel.sms, "theirs")
        async with db.session(tenant_id=tenant.id) as s:
            bodies = set(
                await s.scalars(
                    select(NotificationTemplate.body).where(NotificationTemplate.key == k)
                )
            )
            assert bodies == {"platform", "mine"}
            removed = await s.execute(
                delete(NotificationTemplate)
                .where(NotificationTemplate.key == k)
                .returning(NotificationTemplate.body)
            )
            assert set(removed.scalars()) == {"mine"}
        async with db.session(system=True) as s:
            left = set(
                await s.scalars(
                    select(NotificationTemplate.body).where(NotificationTemplate.key == k)
                )
            )
        assert left == {"platform", "theirs"}
