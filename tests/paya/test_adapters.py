from __future__ import annotations

import pytest

from ludus.core.kit import clock
from ludus.paya.adapters.base import ProviderRejected, ProviderUnavailable, TransferStatus
from ludus.paya.adapters.breaker import CircuitBreaker
from ludus.paya.adapters.dwolla import HttpDwolla
from ludus.paya.adapters.plaid import HttpPlaid
from ludus.paya.adapters.sandbox import SandboxDwolla, SandboxPlaid
from tests.paya.fake_providers import fake_dwolla, fake_plaid, free_port


class TestHttpPlaid:
    async def test_link_exchange_accounts_identity_over_http(self) -> None:
        with fake_plaid() as (url, state):
            plaid = HttpPlaid(url, "cid", "sec")
            assert await plaid.create_link_token("user-1") == "link-fake-user-1"
            exchanged = await plaid.exchange_public_token("public-sandbox-abc")
            assert (exchanged.access_token, exchanged.item_id) == ("access-fake-1", "item-fake-1")
            accounts = await plaid.get_accounts(exchanged.access_token)
            assert [(a.account_id, a.mask, a.subtype) for a in accounts] == [
                ("acc-1", "0000", "checking")
            ]
            identity = await plaid.get_identity(exchanged.access_token)
            assert identity.names == ["Ada Lovelace"]
            assert identity.emails == ["ada@example.com"]
            assert identity.phones == ["+15555550100"]
            token = await plaid.create_processor_token(exchanged.access_token, "acc-1")
            assert token == "processor-fake-acc-1"
            await plaid.aclose()
        paths = [path for _, path, _ in state.requests]
        assert paths[:2] == ["/link/token/create", "/item/public_token/exchange"]
        assert all(body["client_id"] == "cid" for _, _, body in state.requests)

    async def test_errors_are_mapped(self) -> None:
        with fake_plaid() as (url, state):
            bad_keys = HttpPlaid(url, "cid", "wrong")
            with pytest.raises(ProviderRejected) as refused:
                await bad_keys.create_link_token("u")
            assert refused.value.code == "INVALID_API_KEYS"
            plaid = HttpPlaid(url, "cid", "sec")
            with pytest.raises(ProviderRejected) as bad_token:
                await plaid.exchange_public_token("nonsense")
            assert bad_token.value.code == "INVALID_PUBLIC_TOKEN"
            state.fail_with = 503
            with pytest.raises(ProviderUnavailable):
                await plaid.get_accounts("access-fake-1")

    async def test_connection_refused_is_unavailable(self) -> None:
        plaid = HttpPlaid(f"http://127.0.0.1:{free_port()}", "cid", "sec", timeout=2)
        with pytest.raises(ProviderUnavailable):
            await plaid.create_link_token("u")


class TestHttpDwolla:
    async def test_customer_funding_source_transfer_and_status(self) -> None:
        with fake_dwolla() as (url, state):
            dwolla = HttpDwolla(url, "key", "secret", fbo_funding_source="fbo-1")
            customer = await dwolla.create_customer(
                first_name="Ada", last_name="L", email="a@example.com", correlation_id="u1"
            )
            assert customer == "cust-u1"
            source = await dwolla.create_funding_source(
                customer, processor_token="processor-x", name="Checking"
            )
            assert source.startswith("fs-")
            first = await dwolla.initiate_transfer(
                source=source, destination="fbo-1", amount=25, idempotency_key="k1"
            )
            again = await dwolla.initiate_transfer(
                source=source, destination="fbo-1", amount=25, idempotency_key="k1"
            )
            assert first == again and len(state.transfers) == 1
            assert state.transfers[first]["amount"] == {"currency": "USD", "value": "25.00"}
            assert await dwolla.get_transfer_status(first) == TransferStatus.pending
            state.transfers[first]["status"] = "processed"
            assert await dwolla.get_transfer_status(first) == TransferStatus.processed
            state.transfers[first] = {"status": "failed", "achReturnCode": "R01"}
            assert await dwolla.get_transfer_status(first) == TransferStatus.returned
            await dwolla.aclose()
        token_calls = [r for r in state.requests if r[1] == "/token"]
        assert len(token_calls) == 1  # the OAuth token is cached
        transfer_body = next(b for _, p, b in state.requests if p == "/transfers")
        assert transfer_body["_links"]["destination"]["href"] == f"{url}/funding-sources/fbo-1"

    async def test_bad_credentials_and_outage(self) -> None:
        with fake_dwolla() as (url, state):
            wrong = HttpDwolla(url, "key", "nope", fbo_funding_source="fbo-1")
            with pytest.raises(ProviderRejected):
                await wrong.get_transfer_status("tr-1")
            dwolla = HttpDwolla(url, "key", "secret", fbo_funding_source="fbo-1")
            state.fail_with = 500
            with pytest.raises(ProviderUnavailable):
                await dwolla.initiate_transfer(
                    source="a", destination="b", amount=1, idempotency_key="k"
                )


class TestSandbox:
    async def test_settles_after_the_delay(self) -> None:
        dwolla = SandboxDwolla(settle_seconds=60)
        ident = await dwolla.initiate_transfer(
            source="fs-x", destination="fbo", amount=10, idempotency_key="k"
        )
        assert await dwolla.get_transfer_status(ident) == TransferStatus.pending
        clock.advance(61)
        assert await dwolla.get_transfer_status(ident) == TransferStatus.processed

    async def test_scripted_and_named_outcomes(self) -> None:
        dwolla = SandboxDwolla(settle_seconds=0)
        dwolla.script(TransferStatus.failed)
        failed = await dwolla.initiate_transfer(
            source="fs-x", destination="fbo", amount=10, idempotency_key="k1"
        )
        returned = await dwolla.initiate_transfer(
            source="fs-R01-x", destination="fbo", amount=10, idempotency_key="k2"
        )
        assert await dwolla.get_transfer_status(failed) == TransferStatus.failed
        assert await dwolla.get_transfer_status(returned) == TransferStatus.returned

    async def test_down_and_bad_tokens(self) -> None:
        dwolla = SandboxDwolla()
        dwolla.down = True
        with pytest.raises(ProviderUnavailable):
            await dwolla.initiate_transfer(
                source="a", destination="b", amount=1, idempotency_key="k"
            )
        plaid = SandboxPlaid()
        with pytest.raises(ProviderRejected):
            await plaid.exchange_public_token("bogus")
        exchanged = await plaid.exchange_public_token("public-sandbox-1")
        assert exchanged.access_token.startswith("access-sandbox-")


class TestCircuitBreaker:
    async def test_opens_after_failures_then_half_opens(self) -> None:
        breaker = CircuitBreaker("x", failures=2, reset_seconds=0.05)
        calls = 0

        async def failing() -> int:
            nonlocal calls
            calls += 1
            raise ProviderUnavailable("down")

        async def working() -> int:
            return 7

        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                await breaker.call(failing)
        assert breaker.state == "open"
        with pytest.raises(ProviderUnavailable):
            await breaker.call(working)  # refused without calling
        assert calls == 2
        import asyncio

        await asyncio.sleep(0.06)
        assert breaker.state == "half_open"
        assert await breaker.call(working) == 7
        assert breaker.state == "closed"

    async def test_a_refusal_does_not_open_it(self) -> None:
        breaker = CircuitBreaker("x", failures=1, reset_seconds=60)

        async def refused() -> int:
            raise ProviderRejected("no")

        with pytest.raises(ProviderRejected):
            await breaker.call(refused)
        assert breaker.state == "closed"
