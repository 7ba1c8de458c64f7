"""Route lookup by path prefix instead of trying every route's regex in turn.

Starlette matches a request against each route in order until one matches: with 200-odd
routes, a request for a route near the end of the list (the savings M-Pesa callback, PaYa)
ran some 90 regular expressions first. The index keeps Starlette's order and rules: for a
path it yields, in the original order, only the routes whose literal prefix (the template
up to its first parameter) the path starts with; a route whose prefix the path lacks cannot
match. Whatever the candidates do not settle at once (a partial match, no match: 405,
redirect_slashes, 404; lifespan) goes to the router's own full scan, so it ends as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

KEY_DEPTH = 3  # literal path segments a bucket is keyed by ("api", "v1", "savings")

Candidate = tuple[str, BaseRoute]


def literal_prefix(route: BaseRoute) -> str:
    path = str(getattr(route, "path", ""))
    return path.split("{", 1)[0]


def _key(prefix: str, *, whole: bool) -> tuple[str, ...] | None:
    """The bucket of a route's prefix: its first KEY_DEPTH complete segments, if it has
    them (a trailing partial segment, before a parameter, does not count)."""
    parts = prefix.split("/")[1:]
    complete = parts if whole else parts[:-1]
    if len(complete) < KEY_DEPTH:
        return None
    return tuple(complete[:KEY_DEPTH])


@dataclass
class RouteIndex:
    routes: list[BaseRoute]
    size: int = -1
    buckets: dict[tuple[str, ...], list[Candidate]] = field(default_factory=dict)
    generic: list[Candidate] = field(default_factory=list)

    def candidates(self, path: str) -> list[Candidate]:
        if self.size != len(self.routes):
            self._build()
        key = tuple(path.split("/", KEY_DEPTH + 1)[1 : KEY_DEPTH + 1])
        return self.buckets.get(key, self.generic)

    def _build(self) -> None:
        keyed: dict[tuple[str, ...], list[tuple[int, Candidate]]] = {}
        generic: list[tuple[int, Candidate]] = []
        for index, route in enumerate(self.routes):
            prefix = literal_prefix(route)
            whole = "{" not in str(getattr(route, "path", "")) and not _is_mount(route)
            key = _key(prefix, whole=whole)
            entry = (index, (prefix, route))
            (generic if key is None else keyed.setdefault(key, [])).append(entry)
        self.generic = [c for _, c in generic]
        self.buckets = {
            key: [c for _, c in sorted(entries + generic, key=lambda e: e[0])]
            for key, entries in keyed.items()
        }
        self.size = len(self.routes)


def _is_mount(route: BaseRoute) -> bool:
    # A mount's path is a prefix of the paths it serves: its last segment is complete only
    # when followed by "/", so treat it like a prefix that ends mid-segment.
    return not hasattr(route, "endpoint") and hasattr(route, "routes")


def install_route_index(router: Router) -> None:
    """Dispatch `router`'s requests through a RouteIndex (same routes, same order)."""
    index = RouteIndex(router.routes)
    fallback: ASGIApp = router.middleware_stack

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await fallback(scope, receive, send)
            return
        path = get_route_path(scope)
        for prefix, route in index.candidates(path):
            if not path.startswith(prefix):
                continue
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", router)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL:
                break  # rare (a wrong method): the router's own scan below settles it
        await fallback(scope, receive, send)

    router.middleware_stack = dispatch
