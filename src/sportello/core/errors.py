"""Domain errors. Raised by services and selectors; mapped to HTTP once, at the edge
(`sportello.core.http`)."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class BadRequest(DomainError):
    code = "bad_request"
    status = 400


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401


class PermissionDenied(DomainError):
    """The principal may see the object but not do this to it."""

    code = "permission_denied"
    status = 403


class NotFound(DomainError):
    """Missing *or* not visible: the two are indistinguishable on purpose."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
