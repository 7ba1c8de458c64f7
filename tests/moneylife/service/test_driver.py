"""Driver-level statements keep the session's tenant context and SQLAlchemy's error types."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from ludus.core.auth.models import Role
from ludus.core.kit import driver
from ludus.core.kit.db import Database
from ludus.moneylife import bulk, repository
from ludus.moneylife.errors import GameNotFound
from tests.factories import make_tenant, make_user
from tests.moneylife.service.factories import make_game


class TestDriver:
    async def test_lock_sees_only_the_sessions_tenant(self, db: Database) -> None:
        tenant = await make_tenant(db)
        other = await make_tenant(db)
        user = await make_user(db, tenant, Role.member)
        game_id = await make_game(db, tenant.id, user.id)
        async with db.session(tenant_id=tenant.id) as s:
            row = await repository.lock_game(s, tenant.id, game_id)
            assert (row.id, row.user_id, row.content_revision) == (game_id, user.id, None)
        async with db.session(tenant_id=other.id) as s:
            # The query names the right tenant, but RLS scopes the session to the other one.
            rows = await driver.fetch(
                s, "SELECT id FROM moneylife_games WHERE id = %(id)s", {"id": game_id}
            )
            assert rows == []
            with pytest.raises(GameNotFound):
                await repository.lock_game(s, other.id, game_id)

    async def test_constraint_violation_is_sqlalchemys_integrity_error(self, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant, Role.member)
        game_id = await make_game(db, tenant.id, user.id)
        batch = bulk.Batch()
        batch.update(repository.GAMES, [{"id": game_id, "chi_score": 900}])
        with pytest.raises(IntegrityError):
            async with db.session(tenant_id=tenant.id) as s:
                await batch.flush(s)
        async with db.session(tenant_id=tenant.id) as s:
            row = await repository.lock_game(s, tenant.id, game_id, lock=False)
            assert 300 <= row.chi_score <= 850
