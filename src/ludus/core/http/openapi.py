"""OpenAPI additions: the error envelope on every operation and the full error-code table."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ludus.core.kit.errors import LudusError
from ludus.core.kit.schemas import ErrorEnvelope


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, sub in components["ErrorEnvelope"].pop("$defs", {}).items():
            components.setdefault(name, sub)
        codes = sorted(LudusError.registry.values(), key=lambda c: (c.status_code, c.code))
        components["ErrorCode"] = {
            "type": "string",
            "enum": [c.code for c in codes],
            "description": "Stable error codes; see x-error-codes for status and meaning.",
        }
        schema["x-error-codes"] = [
            {"code": c.code, "status": c.status_code, "message": c.message} for c in codes
        ]
        ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, text in (("4XX", "Client error"), ("5XX", "Server error")):
                    responses.setdefault(
                        status,
                        {"description": text, "content": {"application/json": {"schema": ref}}},
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
