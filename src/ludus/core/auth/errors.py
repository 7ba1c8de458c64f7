"""Auth error codes (stable; listed in the OpenAPI document)."""

from __future__ import annotations

from ludus.core.kit.errors import LudusError


class InvalidCredentials(LudusError):
    status_code = 401
    code = "INVALID_CREDENTIALS"
    message = "The sign-in details are not correct."


class AccountLocked(LudusError):
    status_code = 423
    code = "ACCOUNT_LOCKED"
    message = "Too many failed sign-ins; the account is locked for a while."


class WeakPassword(LudusError):
    status_code = 422
    code = "WEAK_PASSWORD"
    message = "The password is too weak."


class WrongPassword(LudusError):
    status_code = 403
    code = "WRONG_PASSWORD"
    message = "The current password is not correct."


class EmailTaken(LudusError):
    status_code = 409
    code = "EMAIL_TAKEN"
    message = "An account with this email already exists; sign in instead."


class ResetTokenInvalid(LudusError):
    status_code = 400
    code = "RESET_TOKEN_INVALID"
    message = "This password reset link is invalid, used or expired."


class InvalidRefreshToken(LudusError):
    status_code = 401
    code = "INVALID_REFRESH_TOKEN"
    message = "The refresh token is invalid, revoked or expired."


class RefreshTokenReused(LudusError):
    status_code = 401
    code = "REFRESH_TOKEN_REUSED"
    message = "This refresh token was already used; the session has been signed out."


class OtpCooldown(LudusError):
    status_code = 429
    code = "OTP_COOLDOWN"
    message = "A code was sent moments ago; wait before asking for another."


class OtpInvalid(LudusError):
    status_code = 401
    code = "OTP_INVALID"
    message = "The code is not correct."


class OtpExpired(LudusError):
    status_code = 401
    code = "OTP_EXPIRED"
    message = "The code has expired; ask for a new one."


class OtpAttemptsExceeded(LudusError):
    status_code = 429
    code = "OTP_ATTEMPTS_EXCEEDED"
    message = "Too many wrong codes; ask for a new one."


class MfaTokenInvalid(LudusError):
    status_code = 401
    code = "MFA_TOKEN_INVALID"
    message = "The second-factor challenge is unknown, used or expired; sign in again."


class InvalidApiKey(LudusError):
    status_code = 401
    code = "INVALID_API_KEY"
    message = "The API key is invalid or revoked."


class ScopeRequired(LudusError):
    status_code = 403
    code = "SCOPE_REQUIRED"
    message = "The API key lacks the scope this action needs."


class ChildUsernameTaken(LudusError):
    status_code = 409
    code = "CHILD_USERNAME_TAKEN"
    message = "A child in this family already has this username."


class PhoneTaken(LudusError):
    status_code = 409
    code = "PHONE_TAKEN"
    message = "An account with this phone number already exists."
