"""The Console's webhooks (Apps and integrations): the signing secrets rules refer to by name
(create — the value shown once —, rotate), and the delivery log of webhook deliveries (status,
attempts, next attempt, the last error) with "Retry" for one parked after its retry window.
Webhooks themselves are actions of rules (their URL and events live in the rule); every write
goes through `outbox.secrets` and `outbox.services`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sportello.core import clock, paging
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.outbox import secrets, selectors, services
from sportello.outbox.models import OutboxStatus

from .views import admin_required, current_admin, render_console

PAGE_SIZE = 50
DELIVERY_KEYS = [paging.SortKey("id", descending=True)]
STATUSES: dict[str, Any] = {
    OutboxStatus.PENDING: pgettext_lazy("delivery", "Pending"),
    OutboxStatus.SENT: pgettext_lazy("delivery", "Sent"),
    OutboxStatus.FAILED: pgettext_lazy("delivery", "Failed"),
    OutboxStatus.PARKED: pgettext_lazy("delivery", "Parked"),
}


def _page(
    request: HttpRequest,
    *,
    status: int = 200,
    error: str = "",
    name: str = "",
    shown: dict[str, str] | None = None,
) -> HttpResponse:
    me = current_admin(request)
    raw = request.GET.get("status") or ""
    chosen = raw if raw in STATUSES else ""
    cursor = request.GET.get("cursor") or None
    qs = selectors.webhook_deliveries(principal=me, status=chosen or None)
    try:
        rows, next_cursor = paging.paginate(qs, keys=DELIVERY_KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    here = reverse("console:webhooks")
    base = {"status": chosen} if chosen else {}
    context = {
        "section": "webhooks",
        "now": clock.now(),
        "secrets": secrets.secret_list(actor=me),
        "deliveries": [(row, STATUSES.get(row.status, row.status)) for row in rows],
        "statuses": list(STATUSES.items()),
        "shown": chosen,
        "next_url": f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None,
        "first_url": f"{here}?{urlencode(base)}" if cursor else None,
        "error": error,
        "name": name,
        "new_secret": shown,
    }
    response = render_console(request, "console/channels/webhooks.html", context, status=status)
    return response


@admin_required
@require_http_methods(["GET"])
def webhooks(request: HttpRequest) -> HttpResponse:
    return _page(request)


@admin_required
@never_cache
@require_http_methods(["POST"])
def secret_create(request: HttpRequest) -> HttpResponse:
    """A new signing secret with a generated value, shown in this answer only."""
    name = request.POST.get("name", "")
    try:
        row, value = secrets.secret_create(actor=current_admin(request), name=name, now=clock.now())
    except (ValidationFailed, Conflict) as exc:
        return _page(request, status=422, error=exc.message, name=name)
    return _page(request, shown={"name": row.name, "value": value, "rotated": ""})


@admin_required
@never_cache
@require_http_methods(["POST"])
def secret_rotate(request: HttpRequest, name: str) -> HttpResponse:
    """A new value for the secret, shown in this answer only; the old one keeps signing for the
    grace period."""
    try:
        row, value = secrets.secret_rotate(actor=current_admin(request), name=name, now=clock.now())
    except NotFound:
        messages.error(request, _("There is no signing secret with that name."))
        return redirect(reverse("console:webhooks"))
    return _page(request, shown={"name": row.name, "value": value, "rotated": "yes"})


@admin_required
@require_http_methods(["POST"])
def delivery_retry(request: HttpRequest, outbox_id: int) -> HttpResponse:
    """Put a parked delivery back in the queue; one no longer parked stays as it is."""
    try:
        services.delivery_retry(actor=current_admin(request), outbox_id=outbox_id, now=clock.now())
    except NotFound:
        messages.error(request, _("That delivery no longer exists."))
    except Conflict:
        messages.info(request, _("That delivery was not parked any more: nothing was changed."))
    else:
        messages.success(
            request, _("Delivery %(id)s is queued again: it is attempted now.") % {"id": outbox_id}
        )
    back = request.POST.get("next") or ""
    here = reverse("console:webhooks")
    return redirect(back if back.startswith(here) and "//" not in back else here)


urlpatterns = [
    path("webhooks/", webhooks, name="webhooks"),
    path("webhooks/secrets/", secret_create, name="webhook_secret_create"),
    path("webhooks/secrets/<str:name>/rotate/", secret_rotate, name="webhook_secret_rotate"),
    path("webhooks/deliveries/<int:outbox_id>/retry/", delivery_retry, name="webhook_retry"),
]
