"""Domain errors in, HTTP out: the one mapping for the API (JSON) and the HTML edges."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from .errors import DomainError

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


def _body_types(path: str) -> tuple[tuple[str, ...], str]:
    if path.rstrip("/").endswith("/attachments"):
        return ("application/json", "multipart/form-data"), "application/json or multipart/form-data"
    if path.startswith("/api/v1/rules"):  # rules as code: YAML too
        return ("application/json", *YAML_CONTENT_TYPES), "application/json or application/yaml"
    if path.rstrip("/") == "/api/v1/mail/inbound":  # a raw RFC 5322 message
        return ("application/json", *MAIL_CONTENT_TYPES), "message/rfc822"
    return ("application/json",), "application/json"


class ApiContentTypeMiddleware:
    """API requests with a body must say what it is: JSON, or what the endpoint takes instead
    (multipart uploads, YAML rules, raw mail)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request) and request.method in ("POST", "PUT", "PATCH"):
            accepted, expected = _body_types(request.path)
            has_body = int(request.META.get("CONTENT_LENGTH") or 0) > 0
            if has_body and (request.content_type or "").lower() not in accepted:
                return error_response(415, f"send the request body as {expected}")
        return self.get_response(request)
