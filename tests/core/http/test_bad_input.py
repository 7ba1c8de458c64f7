"""Every mutating route answers bad input with a 4xx envelope and writes nothing.

Routes are discovered from the application, so new modules are covered automatically.
"""

from __future__ import annotations

import enum
import json
import typing
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute
from httpx import AsyncClient
from pydantic import BaseModel
from sqlalchemy import text

from ludus.app import create_app, route_table
from ludus.core.auth.models import Role
from tests.factories import make_actor

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
SKIP_TABLES = ("idempotency_keys",)


def _routes() -> list[tuple[str, str, APIRoute]]:
    found = []
    for path, route in route_table(create_app()):
        if isinstance(route, APIRoute) and path.startswith("/api/"):
            methods = set(route.methods or ())
            found += [(m, path, route) for m in sorted(methods & set(MUTATING))]
    return found


ROUTES = _routes()


def _fill_path(path: str, route: APIRoute) -> str:
    for param in route.dependant.path_params:
        value: Any = "nope"
        if param.field_info.annotation in (uuid.UUID,):
            value = uuid.uuid4()
        elif param.field_info.annotation is int:
            value = 1
        path = path.replace("{" + param.name + "}", str(value))
    return path


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    if route.body_field is None:
        return None
    annotation = route.body_field.field_info.annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _mentions(annotation: Any, predicate: typing.Callable[[Any], bool]) -> bool:
    if predicate(annotation):
        return True
    return any(_mentions(arg, predicate) for arg in typing.get_args(annotation))


def _is_enum(tp: Any) -> bool:
    return (isinstance(tp, type) and issubclass(tp, enum.Enum)) or typing.get_origin(
        tp
    ) is typing.Literal


def _is_mapping(tp: Any) -> bool:
    return (
        tp is dict
        or typing.get_origin(tp) is dict
        or (isinstance(tp, type) and issubclass(tp, BaseModel))
    )


def _bad_bodies(model: type[BaseModel]) -> dict[str, bytes]:
    wrong = {
        name: ("not-an-object" if _mentions(f.annotation, _is_mapping) else {"$bad": [1]})
        for name, f in model.model_fields.items()
    }
    cases = {
        "malformed_json": b'{"broken": ',
        "not_an_object": b"[1, 2, 3]",
        "wrong_types": json.dumps(wrong).encode(),
    }
    if any(f.is_required() for f in model.model_fields.values()):
        cases["missing_fields"] = b"{}"
    enums = [n for n, f in model.model_fields.items() if _mentions(f.annotation, _is_enum)]
    if enums:
        cases["unknown_enum"] = json.dumps({n: "NOT_A_VALID_CHOICE" for n in enums}).encode()
    return cases


async def _row_counts(db) -> dict[str, int]:
    async with db.session(system=True) as s:
        tables = (
            (
                await s.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = 'public'"
                        " AND table_type = 'BASE TABLE' ORDER BY table_name"
                    )
                )
            )
            .scalars()
            .all()
        )
        tables = [t for t in tables if t not in SKIP_TABLES and not t.startswith("alembic")]
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
        return {name: count for name, count in (await s.execute(text(query))).all()}


@pytest.mark.parametrize(
    ("method", "template", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
async def test_bad_input_is_refused_without_writes(
    method: str, template: str, route: APIRoute, client: AsyncClient, db
) -> None:
    admin = await make_actor(db, None, Role.system_admin)
    headers = {**admin.headers, "Content-Type": "application/json"}
    path = _fill_path(template, route)
    model = _body_model(route)
    cases = _bad_bodies(model) if model is not None else {}
    cases["oversize"] = b'{"x": "' + b"y" * 1_050_000 + b'"}'
    before = await _row_counts(db)
    for case, body in cases.items():
        resp = await client.request(method, path, content=body, headers=headers)
        assert 400 <= resp.status_code < 500, f"{case}: {resp.status_code} {resp.text[:300]}"
        payload = resp.json()
        assert payload["success"] is False, case
        assert isinstance(payload["error"]["code"], str) and payload["error"]["code"], case
        if case == "oversize":
            assert resp.status_code == 413
    assert await _row_counts(db) == before
