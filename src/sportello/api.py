"""The REST API, `/api/v1/`: bearer-token auth, one error shape, routers from each app."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from sportello.accounts.api import router as accounts_router
from sportello.accounts.services import token_authenticate
from sportello.contacts.api import router as contacts_router
from sportello.core import clock
from sportello.core.errors import DomainError, ValidationFailed
from sportello.core.http import domain_error_response, error_response, json_loads, validation_errors_response
from sportello.tickets.api import router as tickets_router
from sportello.tickets.api.attachments import router as attachments_router
from sportello.tickets.api.fields import router as fields_router
from sportello.tickets.api.search import router as search_router


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(secret=token, now=clock.now())
        if user is not None:
            request.user = user
        return user


class BoundedJsonParser(Parser):
    """Request bodies are JSON objects nested at most NESTING_MAX deep: deeper is a 400 before
    validation walks them; anything but an object is a 422 (ninja would otherwise read a bare
    string's attributes as fields: `"abc"` has a `title`). Ninja reports the cause through
    `_http_error` below."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json_loads(request.body)
        if not isinstance(data, dict):
            raise ValidationFailed("the body must be a JSON object")
        return data


# The error answers an operation can give, by what it takes (the body itself is `ErrorOut`).
_ERROR_DESCRIPTIONS = {
    400: "Bad request: the body is not valid JSON or YAML, or nests too deep",
    401: "Not authenticated: no token, an unknown token, a revoked token",
    403: "Permission denied: the caller's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflict: a duplicate, a stale `version`, a state that does not allow it",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed: `field` names the value",
    429: "Too many requests",
}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            "message": {"type": "string"},
                        },
                        "required": ["field", "message"],
                    },
                },
            },
            "required": ["code", "message", "field"],
        }
    },
    "required": ["error"],
    "examples": [
        {
            "error": {
                "code": "validation_failed",
                "message": "is not allowed in this department",
                "field": "custom_fields.subcategory",
            }
        }
    ],
}


def error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The 4xx answers an operation can give, from its shape: a body can be malformed, too
    large or of the wrong type; a token can be missing or lack the role; a path names something
    or a body names something that may not exist; a write can conflict; any input can fail
    validation."""
    statuses = {429}
    params = operation.get("parameters") or []
    if operation.get("security"):
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if method in ("post", "put", "patch"):
        statuses |= {400, 404, 413, 415}
    if method in ("post", "put", "patch", "delete"):
        statuses.add(409)
    if params or operation.get("requestBody") or method in ("post", "put", "patch"):
        statuses.add(422)  # (a write reading its body itself — a rules document — declares none)
    return sorted(statuses)


class SportelloAPI(NinjaAPI):
    """Ninja, plus the error answers on every operation of the OpenAPI document."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema["components"]["schemas"]["ErrorOut"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/ErrorOut"}
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                for status in error_statuses(method, operation):
                    operation["responses"].setdefault(
                        status,
                        {
                            "description": _ERROR_DESCRIPTIONS[status],
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        return schema


api = SportelloAPI(
    title="Sportello API",
    version="1",
    description="Tickets, conversations, people and search. Send `Authorization: Bearer <token>`.",
    auth=BearerToken(),
    parser=BoundedJsonParser(),
    urls_namespace="api-v1",
)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_error_response(exc)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return validation_errors_response(list(exc.errors))


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(401, "missing, invalid or revoked API token")
    response["WWW-Authenticate"] = 'Bearer realm="sportello"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja wraps what the body parser raised in a 400 "cannot parse": say what it was.
    if isinstance(exc.__cause__, DomainError):
        return domain_error_response(exc.__cause__)
    if isinstance(exc.__cause__, RequestDataTooBig):
        return _too_big(request, exc.__cause__)
    return error_response(exc.status_code, str(exc))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # A body without a Content-Length, found too large while it was read.
    return error_response(413, "the request body is larger than the limit")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not found")


api.add_router("", accounts_router)
api.add_router("", contacts_router)
api.add_router("", tickets_router)
api.add_router("", attachments_router)
api.add_router("", fields_router)
api.add_router("", search_router)
api.add_router("", "sportello.tickets.api.merge.router")
api.add_router("", "sportello.outbox.api.deliveries.router")
api.add_router("", "sportello.channels.api.mail.router")
api.add_router("", "sportello.channels.api.mailboxes.router")
api.add_router("", "sportello.outbox.api.secrets.router")
api.add_router("", "sportello.notifications.api.router")
api.add_router("", "sportello.automation.api.macros.router")
api.add_router("", "sportello.automation.api.router")
api.add_router("", "sportello.automation.api.timers.router")
api.add_router("", "sportello.automation.api.assignment.router")
api.add_router("", "sportello.ticket_tasks.api.router")
api.add_router("", "sportello.sla.api.router")
api.add_router("", "sportello.blueprints.api.router")
api.add_router("", "sportello.reports.export_api.router")
api.add_router("", "sportello.core.api.router")
api.add_router("", "sportello.surveys.api.router")
api.add_router("", "sportello.kb.api.router")
api.add_router("", "sportello.kb.suggest_api.router")
api.add_router("", "sportello.reports.process_api.router")
