"""Business errors: each class carries its HTTP status and a stable error code.

Every subclass registers itself, so the OpenAPI document can list every code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LudusError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    message: ClassVar[str] = "The request could not be processed."
    registry: ClassVar[dict[str, type[LudusError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LudusError.registry.setdefault(cls.code, cls)

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail_message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.detail_message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.detail_message, "details": self.details}


def error_code(status: int, code: str, message: str) -> type[LudusError]:
    """Declare a simple error class in one line."""
    name = "".join(part.capitalize() for part in code.split("_")) + "Error"
    return type(name, (LudusError,), {"status_code": status, "code": code, "message": message})


class BadRequest(LudusError):
    status_code = 400
    code = "BAD_REQUEST"
    message = "The request could not be processed."


class MalformedJson(LudusError):
    status_code = 400
    code = "MALFORMED_JSON"
    message = "The request body is not valid JSON."


class ValidationFailed(LudusError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message = "The request has invalid or missing fields."


class Unauthorized(LudusError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "Authentication is required."


class InvalidToken(LudusError):
    status_code = 401
    code = "INVALID_TOKEN"
    message = "The access token is invalid or expired."


class Forbidden(LudusError):
    status_code = 403
    code = "FORBIDDEN"
    message = "You do not have permission to do this."


class TenantSuspended(LudusError):
    status_code = 403
    code = "TENANT_SUSPENDED"
    message = "This tenant is suspended."


class TenantRequired(LudusError):
    status_code = 400
    code = "TENANT_REQUIRED"
    message = "Name the tenant with the X-Tenant header."


class NotFound(LudusError):
    status_code = 404
    code = "NOT_FOUND"
    message = "The resource was not found."


class MethodNotAllowed(LudusError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    message = "This method is not allowed here."


class Conflict(LudusError):
    status_code = 409
    code = "CONFLICT"
    message = "The request conflicts with the current state."


class IdempotencyKeyReused(LudusError):
    status_code = 409
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was used with a different request."


class IdempotencyInProgress(LudusError):
    status_code = 409
    code = "IDEMPOTENCY_IN_PROGRESS"
    message = "A request with this Idempotency-Key is still being processed."


class PayloadTooLarge(LudusError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "The request body is too large."


class UnsupportedMediaType(LudusError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "Send the request body as application/json."


class RateLimited(LudusError):
    status_code = 429
    code = "RATE_LIMITED"
    message = "Too many requests; try again later."


class InternalError(LudusError):
    status_code = 500
    code = "INTERNAL_ERROR"
    message = "Something went wrong on our side."


class ServiceUnavailable(LudusError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    message = "The service is temporarily unavailable."


class ConcurrentUpdate(LudusError):
    status_code = 409
    code = "CONCURRENT_UPDATE"
    message = "Another request changed the same data; retry the request."


# Database constraint name → the business error it means (modules register theirs).
CONSTRAINT_ERRORS: dict[str, type[LudusError]] = {}


def register_constraint_error(constraint: str, error: type[LudusError]) -> None:
    CONSTRAINT_ERRORS[constraint] = error


def from_database_error(exc: BaseException) -> LudusError | None:
    """The business error a database exception stands for, or None if it is a real fault."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    if state in ("40001", "40P01"):
        return ConcurrentUpdate()
    if state is None or not state.startswith("23"):  # integrity constraint violations
        return None
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    error = CONSTRAINT_ERRORS.get(constraint or "", Conflict)
    return error(details={"constraint": constraint} if constraint else {})
