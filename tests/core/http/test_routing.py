"""The route index picks exactly the route Starlette's linear scan would."""

from __future__ import annotations

import re

from httpx import AsyncClient
from starlette.routing import Match, Mount, Route

from ludus.core.http.routing import RouteIndex

_PARAM = re.compile(r"{([^}:]+)(?::([^}]+))?}")
_SAMPLES = {"int": "7", "uuid": "00000000-0000-0000-0000-000000000007", "path": "a/b"}


def _sample_path(template: str) -> str:
    return _PARAM.sub(lambda m: _SAMPLES.get(m.group(2) or "", "sample"), template)


def _scope(path: str, method: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _linear(routes, scope):  # type: ignore[no-untyped-def]
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _indexed(index: RouteIndex, scope):  # type: ignore[no-untyped-def]
    path = scope["path"]
    for prefix, route in index.candidates(path):
        if path.startswith(prefix) and route.matches(scope)[0] is Match.FULL:
            return route
    return None


class TestRouteIndex:
    def test_every_route_resolves_as_in_starlette(self, app) -> None:
        routes = app.router.routes
        index = RouteIndex(routes)
        checked = 0
        for route in routes:
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                scope = _scope(_sample_path(str(route.path)), method)
                assert _indexed(index, scope) is _linear(routes, scope), (route.path, method)
                checked += 1
        assert checked > 150

    def test_near_misses_resolve_as_in_starlette(self, app) -> None:
        routes = app.router.routes
        index = RouteIndex(routes)
        for route in routes:
            base = _sample_path(str(route.path))
            for path in (base + "/", base + "/extra", base[:-1], "/api/v1"):
                scope = _scope(path, "GET")
                assert _indexed(index, scope) is _linear(routes, scope), path

    def test_parameters_mid_segment_and_mounts(self) -> None:
        async def endpoint(request: object) -> None:
            return None

        routes = [
            Route("/api/v1/items/{item_id}", endpoint),
            Route("/api/v1/{anything}", endpoint),
            Route("/api/v1/file-{name}.txt", endpoint),
            Route("/api/v1/items/all", endpoint),
            Mount("/api/v1/static", routes=[Route("/{name}", endpoint)]),
            Route("/api/v1/static", endpoint),
        ]
        index = RouteIndex(routes)
        for path in (
            "/api/v1/items/3",
            "/api/v1/items/all",
            "/api/v1/other",
            "/api/v1/file-x.txt",
            "/api/v1/static/logo",
            "/api/v1/static",
            "/api/v2/items/3",
        ):
            scope = _scope(path, "GET")
            assert _indexed(index, scope) is _linear(routes, scope), path
        assert _indexed(index, _scope("/api/v1/other", "GET")) is routes[1]

    def test_routes_added_later_are_indexed(self, app) -> None:
        routes = list(app.router.routes)
        index = RouteIndex(routes)
        assert index.candidates("/api/v1/me")
        routes.clear()
        assert index.candidates("/api/v1/me") == []


class TestDispatch:
    async def test_wrong_method_and_unknown_path_answer_as_before(
        self, client: AsyncClient
    ) -> None:
        wrong = await client.delete("/api/v1/me")
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")
        missing = await client.get("/api/v1/savings/no/such/route")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
