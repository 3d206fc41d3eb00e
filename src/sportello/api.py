"""The REST API, `/api/v1/`: bearer-token auth, one error shape, routers from each app."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from sportello.accounts.api import router as accounts_router
from sportello.accounts.services import token_authenticate
from sportello.contacts.api import router as contacts_router
from sportello.core import clock
from sportello.core.errors import DomainError
from sportello.core.http import domain_error_response, error_response, validation_errors_response
from sportello.tickets.api import router as tickets_router
from sportello.tickets.api_attachments import router as attachments_router
from sportello.tickets.api_fields import router as fields_router
from sportello.tickets.api_search import router as search_router


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(secret=token, now=clock.now())
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Sportello API",
    version="1",
    description="Tickets, conversations, people and search. Send `Authorization: Bearer <token>`.",
    auth=BearerToken(),
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
    return error_response(exc.status_code, str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not found")


api.add_router("", accounts_router)
api.add_router("", contacts_router)
api.add_router("", tickets_router)
api.add_router("", attachments_router)
api.add_router("", fields_router)
api.add_router("", search_router)
api.add_router("", "sportello.channels.api.router")
api.add_router("", "sportello.channels.api_mail.router")
api.add_router("", "sportello.channels.api_mailboxes.router")
api.add_router("", "sportello.notifications.api.router")
api.add_router("", "sportello.automation.api_macros.router")
api.add_router("", "sportello.automation.api.router")
api.add_router("", "sportello.automation.api_timers.router")
api.add_router("", "sportello.automation.api_assignment.router")
api.add_router("", "sportello.ticket_tasks.api.router")
api.add_router("", "sportello.sla.api.router")
api.add_router("", "sportello.blueprints.api.router")
api.add_router("", "sportello.core.api.router")
