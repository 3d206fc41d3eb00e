"""The Console's webhooks (Apps and integrations): the signing secrets rules refer to by name
(create — the value shown once —, rotate), a test delivery (a real signed delivery through
the outbox, its status polled until attempted), and the delivery log of webhook deliveries (status,
attempts, next attempt, the last error) with "Retry" for one parked after its retry window.
Webhooks themselves are actions of rules (their URL and events live in the rule); every write
goes through `outbox.secrets` and `outbox.services`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sportello.core import clock, paging
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.outbox import secrets, selectors, services
from sportello.outbox.models import OutboxMessage, OutboxStatus

from .views import admin_required, current_admin, int_or_none, render_console

PAGE_SIZE = 50
DELIVERY_KEYS = [paging.SortKey("id", descending=True)]
STATUSES: dict[str, Any] = {
    OutboxStatus.PENDING: pgettext_lazy("delivery", "Pending"),
    OutboxStatus.SENT: pgettext_lazy("delivery", "Sent"),
    OutboxStatus.FAILED: pgettext_lazy("delivery", "Failed"),
    OutboxStatus.PARKED: pgettext_lazy("delivery", "Parked"),
}


TEST_ERRORS: dict[str, Any] = {
    "url": gettext_lazy("Enter an http or https URL with a host, without a user name or password."),
    "secret_ref": gettext_lazy("Choose one of the signing secrets."),
    "event": gettext_lazy("Use 1 to 64 characters a-z, 0-9, _ . -, starting with a letter or a digit."),
}


def _test_status(item: OutboxMessage | None) -> dict[str, Any] | None:
    if item is None:
        return None
    pending = item.status == OutboxStatus.PENDING
    return {
        "item": item,
        "label": STATUSES.get(item.status, item.status),
        "pending": pending,
        # polled briskly until the first attempt, then at the pace of the retries
        "every": ("2s" if item.attempts == 0 else "10s") if pending else "",
    }


def _page(
    request: HttpRequest,
    *,
    status: int = 200,
    error: str = "",
    name: str = "",
    shown: dict[str, str] | None = None,
    test: dict[str, str] | None = None,
    test_errors: dict[str, str] | None = None,
) -> HttpResponse:
    me = current_admin(request)
    sent: OutboxMessage | None = None
    if (sent_id := int_or_none(request.GET.get("test"))) is not None:
        try:
            sent = selectors.webhook_delivery(principal=me, outbox_id=sent_id)
        except NotFound:
            sent = None
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
        "test": test or {"url": "", "secret": "", "event": ""},
        "test_errors": test_errors or {},
        "test_sent": _test_status(sent),
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


@admin_required
@require_http_methods(["POST"])
def test_send(request: HttpRequest) -> HttpResponse:
    """Queue a signed test delivery through the outbox, then show the page with its status
    (polled while it is pending) and its row in the delivery log."""
    typed = {
        "url": request.POST.get("url", "").strip(),
        "secret": request.POST.get("secret", ""),
        "event": request.POST.get("event", "").strip(),
    }
    try:
        item = services.webhook_test_send(
            actor=current_admin(request),
            url=typed["url"],
            secret_ref=typed["secret"] or None,
            event=typed["event"],
            now=clock.now(),
        )
    except ValidationFailed as exc:
        field = exc.field or "url"
        text = TEST_ERRORS.get(field, exc.message)
        return _page(request, status=422, test=typed, test_errors={field: str(text)})
    messages.success(
        request, _("Test delivery #%(id)s is queued: its status shows here once attempted.") % {"id": item.pk}
    )
    return redirect(f"{reverse('console:webhooks')}?{urlencode({'test': item.pk})}#test-status")


@admin_required
@require_http_methods(["GET"])
def test_status(request: HttpRequest, outbox_id: int) -> HttpResponse:
    """The status of one delivery (HTMX polls it every 2 seconds while it is pending)."""
    try:
        item = selectors.webhook_delivery(principal=current_admin(request), outbox_id=outbox_id)
    except NotFound:
        raise Http404 from None
    # once attempted, its row in the log is brought up to date too
    context = {"test_sent": _test_status(item), "now": clock.now(), "oob": item.attempts > 0}
    return render(request, "console/channels/_webhook_test_status.html", context)


urlpatterns = [
    path("webhooks/", webhooks, name="webhooks"),
    path("webhooks/secrets/", secret_create, name="webhook_secret_create"),
    path("webhooks/secrets/<str:name>/rotate/", secret_rotate, name="webhook_secret_rotate"),
    path("webhooks/deliveries/<int:outbox_id>/retry/", delivery_retry, name="webhook_retry"),
    path("webhooks/test/", test_send, name="webhook_test"),
    path("webhooks/deliveries/<int:outbox_id>/status/", test_status, name="webhook_status"),
]
