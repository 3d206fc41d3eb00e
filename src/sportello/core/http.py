"""Domain errors in, HTTP out: the one mapping for the API (JSON) and the HTML edges."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_htmx.middleware import HtmxDetails

from sportello.engine.schema import NESTING_MAX, nesting_exceeds

from .errors import BadRequest, DomainError, ValidationFailed

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int, message: str, *, code: str | None = None, field: str | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code or _CODES.get(status, "error"), message, field), status=status)


def domain_error_response(exc: DomainError) -> JsonResponse:
    return error_response(exc.status, exc.message, code=exc.code, field=exc.field)


def _loc_to_field(loc: list[Any] | tuple[Any, ...]) -> str | None:
    """`("body", "payload", "tags", 0)` → `"tags.0"`; `("query", "limit")` → `"limit"`.
    Only the leading location (and, for bodies, ninja's parameter name) is dropped, so a field
    that is itself called `body` or `path` keeps its name."""
    parts = list(loc)
    if parts and parts[0] in ("body", "form", "file"):
        parts = parts[2:]  # location, then the view's parameter name
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or None


def validation_errors_response(errors: list[dict[str, Any]]) -> JsonResponse:
    first = errors[0] if errors else {}
    field = _loc_to_field(first.get("loc", []))
    message = str(first.get("msg", "invalid input"))
    body = error_body("validation_failed", message, field)
    body["error"]["details"] = [
        {"field": _loc_to_field(e.get("loc", [])), "message": str(e.get("msg", ""))} for e in errors[:20]
    ]
    return JsonResponse(body, status=422)


def too_deep() -> BadRequest:
    return BadRequest(f"the document is nested deeper than {NESTING_MAX} levels")


def json_loads(raw: bytes | str) -> Any:
    """A JSON request body as data, nested at most NESTING_MAX deep (BadRequest beyond: deep
    input would exhaust the stack of whatever walks it). Invalid JSON is BadRequest too."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise too_deep() from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    if nesting_exceeds(data):
        raise too_deep()
    return data


def json_document(request: HttpRequest, *, max_bytes: int, what: str = "document") -> Any:
    """The body of an endpoint that takes a whole document as JSON: size-bounded, depth-bounded;
    a syntax error is a 422 saying where (the document is the value being validated)."""
    if len(request.body) > max_bytes:
        raise ValidationFailed(f"the {what} is larger than {max_bytes} bytes")
    try:
        return json_loads(request.body.decode("utf-8", errors="replace"))
    except BadRequest as exc:
        if exc.message.startswith("invalid JSON"):
            raise ValidationFailed(exc.message) from None
        raise


class HtmxRequest(HttpRequest):
    """A request as the HTML edges see it: django-htmx's middleware (in MIDDLEWARE) gives every
    request `htmx`, true when htmx sent it, with the details of the page that did. Views that
    read it annotate their `request` with this type."""

    htmx: HtmxDetails


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return error_response(404, "no such endpoint")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception())


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return error_response(500, "internal error", code="internal_error")
    from django.views.defaults import server_error

    return server_error(request)


YAML_CONTENT_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


# Endpoints whose body may be something else than JSON: (what they take, how the 415 says it).
MAIL_CONTENT_TYPES = ("message/rfc822", "application/octet-stream")


def _body_types(path: str) -> tuple[tuple[str, ...], str, int | None]:
    """What an endpoint's body may be and how large it may be: JSON bodies are bounded by
    DATA_UPLOAD_MAX_MEMORY_SIZE, raw mail by its own limit; uploads (None here) check the
    declared length and count the stream themselves, naming the attachment limit."""
    if path.rstrip("/").endswith("/attachments"):
        return ("application/json", "multipart/form-data"), "application/json or multipart/form-data", None
    json_cap = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if path.startswith("/api/v1/rules"):  # rules as code: YAML too
        return ("application/json", *YAML_CONTENT_TYPES), "application/json or application/yaml", json_cap
    if path.rstrip("/") == "/api/v1/mail/inbound":  # a raw RFC 5322 message
        cap = 4 * int(settings.SPORTELLO["MAIL_MAX_BYTES"])
        return ("application/json", *MAIL_CONTENT_TYPES), "message/rfc822", cap
    return ("application/json",), "application/json", json_cap


class ApiContentTypeMiddleware:
    """API requests with a body must say what it is — JSON, or what the endpoint takes instead
    (multipart uploads, YAML rules, raw mail) — and be within the endpoint's size limit: a larger
    declared length is a 413 before the body is read or the token looked at."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request) and request.method in ("POST", "PUT", "PATCH"):
            accepted, expected, cap = _body_types(request.path)
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(400, "the Content-Length header is not a number")
            if cap is not None and length > cap:
                return error_response(413, f"the request body is larger than {cap} bytes")
            if length > 0 and (request.content_type or "").lower() not in accepted:
                return error_response(415, f"send the request body as {expected}")
        return self.get_response(request)


# Headers an error answer keeps when it is rewritten as JSON.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiJsonErrorsMiddleware:
    """Every error under /api/ is JSON, whoever answered it: Django's own 400 (a disallowed host),
    403 (CSRF), 404, 405 (ninja's wrong method) and 500 pages — the debug ones too — become
    `{"error": …}` with the same status. First in MIDDLEWARE, so it sees every answer."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api(request)
            or (response.get("Content-Type") or "").startswith("application/json")
        ):
            return response
        status = response.status_code
        if status == 500:
            json_response = error_response(500, "internal error", code="internal_error")
        else:
            phrase = HTTPStatus(status).phrase.lower() if status in HTTPStatus._value2member_map_ else "error"
            if status == 405 and response.get("Allow"):
                phrase = f"{phrase}: use {response['Allow']}"
            json_response = error_response(status, phrase)
        for header in _KEPT_HEADERS:
            if header in response:
                json_response[header] = response[header]
        return json_response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/, Django's page elsewhere."""
    if is_api(request):
        return error_response(
            403, f"CSRF verification failed: {reason}" if reason else "CSRF verification failed"
        )
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)
