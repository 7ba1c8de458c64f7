"""Exception handlers that turn every failure into the spec's error envelope."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ludus.core.kit.errors import (
    Conflict,
    LudusError,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
    error_code,
    from_database_error,
)

_HTTP_CODES: dict[int, type[LudusError]] = {404: NotFound, 405: MethodNotAllowed}


def _response(error: LudusError) -> Response:
    return Response(
        orjson.dumps({"success": False, "error": error.to_dict()}),
        status_code=error.status_code,
        headers=error.headers or None,
        media_type="application/json",
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        out.append(
            {
                "field": ".".join(loc[1:]) or loc[0] if loc else "",
                "loc": loc,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LudusError)
    async def ludus_error(_: Request, exc: LudusError) -> Response:
        return _response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return _response(MalformedJson(details={"errors": errors}))
        return _response(ValidationFailed(details={"errors": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        cls = _HTTP_CODES.get(exc.status_code) or error_code(
            exc.status_code, f"HTTP_{exc.status_code}", "Request failed."
        )
        message = exc.detail if isinstance(exc.detail, str) else None
        return _response(cls(message))

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> Response:
        return _response(from_database_error(exc) or Conflict())

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> Response:
        return _response(ValidationFailed("A value is out of range or malformed."))
