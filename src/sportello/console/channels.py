"""The Console's Channels: the quarantine (held inbound mail: review, release into the desk,
discard). Each view parses, calls one service or selector of `channels.quarantine`, renders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_http_methods

from sportello.channels import quarantine
from sportello.channels.models import InboundMail, InboundStatus
from sportello.channels.quarantine import HoldReason
from sportello.core import clock, paging
from sportello.core.actors import Via
from sportello.core.errors import NotFound, ValidationFailed

from .views import admin_required, current_admin, int_or_none, render_console

PAGE_SIZE = 50
QUARANTINE_KEYS = [paging.SortKey("id", descending=True)]

REASON_LABELS: dict[HoldReason, Any] = {
    HoldReason.TOO_LARGE: gettext_lazy("Too large"),
    HoldReason.NO_SENDER: gettext_lazy("No single sender"),
    HoldReason.NOT_OURS: gettext_lazy("Not sent to one of our mailboxes"),
    HoldReason.AGENT: gettext_lazy("From an agent's address"),
    HoldReason.THROTTLED: gettext_lazy("Sender sending too many"),
    HoldReason.BAD_SENDER: gettext_lazy("Unusable sender address"),
    HoldReason.REFUSED: gettext_lazy("Refused by the desk"),
    HoldReason.BOUNCE: gettext_lazy("Unreadable delivery failure notice"),
}
# What releasing does for each kind of reason: the check passed, or what still holds.
REASON_RELEASE: dict[HoldReason, Any] = {
    HoldReason.TOO_LARGE: gettext_lazy("Releasing reads it whole (up to four times the size limit)."),
    HoldReason.NO_SENDER: gettext_lazy(
        "It has no single sender to open a ticket for: it cannot be released, only discarded."
    ),
    HoldReason.NOT_OURS: gettext_lazy(
        "Choose the mailbox it is taken in at: its department gets the ticket."
    ),
    HoldReason.AGENT: gettext_lazy("Releasing takes it in as a customer's message from that address."),
    HoldReason.THROTTLED: gettext_lazy("Releasing takes it in despite the flood limit."),
    HoldReason.BAD_SENDER: gettext_lazy(
        "Its sender's address cannot be used: it will most likely be held again."
    ),
    HoldReason.REFUSED: gettext_lazy("Releasing tries again: it goes in if what refused it has changed."),
    HoldReason.BOUNCE: gettext_lazy("Releasing takes it in as an ordinary message, not as a bounce."),
}


def _label(reason: str) -> Any:
    kind = quarantine.hold_reason(reason)
    return REASON_LABELS[kind] if kind is not None else pgettext("quarantine", "Other")


def _reason_filter(raw: str | None) -> HoldReason | None:
    try:
        return HoldReason(raw) if raw else None
    except ValueError:
        return None


@admin_required
@require_http_methods(["GET"])
def quarantine_list(request: HttpRequest) -> HttpResponse:
    """The held messages, newest first, PAGE_SIZE a page after `cursor`, filtered by `reason`."""
    reason = _reason_filter(request.GET.get("reason"))
    cursor = request.GET.get("cursor") or None
    qs = quarantine.quarantine_list(actor=current_admin(request), reason=reason)
    try:
        rows, next_cursor = paging.paginate(qs, keys=QUARANTINE_KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    base = {"reason": reason.value} if reason else {}
    here = reverse("console:quarantine")
    context = {
        "section": "quarantine",
        "now": clock.now(),
        "rows": [(row, _label(row.reason)) for row in rows],
        "reasons": [(k.value, label) for k, label in REASON_LABELS.items()],
        "shown": reason.value if reason else "",
        "next_url": f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None,
        "first_url": f"{here}?{urlencode(base)}" if cursor else None,
    }
    return render_console(request, "console/channels/quarantine.html", context)


def _held_page(
    request: HttpRequest,
    row: InboundMail,
    *,
    error: str = "",
    mailbox_id: int | None = None,
    status: int = 200,
) -> HttpResponse:
    kind = quarantine.hold_reason(row.reason)
    context = {
        "section": "quarantine",
        "now": clock.now(),
        "row": row,
        "held": row.status == InboundStatus.QUARANTINE,
        "label": _label(row.reason),
        "release_note": REASON_RELEASE.get(kind) if kind is not None else "",
        "preview": quarantine.quarantine_preview(row) if row.status == InboundStatus.QUARANTINE else None,
        "needs_mailbox": row.mailbox_id is None,
        "mailboxes": quarantine.release_mailboxes(actor=current_admin(request))
        if row.mailbox_id is None
        else [],
        "mailbox_id": mailbox_id,
        "error": error,
    }
    return render_console(request, "console/channels/quarantine_message.html", context, status=status)


def _get(request: HttpRequest, inbound_id: int) -> InboundMail:
    try:
        return quarantine.quarantine_get(actor=current_admin(request), inbound_id=inbound_id)
    except NotFound:
        raise Http404 from None


@admin_required
@require_http_methods(["GET"])
def quarantine_message(request: HttpRequest, inbound_id: int) -> HttpResponse:
    """One held message: who sent it, why it was held, what it says (as text); release, discard."""
    return _held_page(request, _get(request, inbound_id))


@admin_required
@require_http_methods(["POST"])
def quarantine_release(request: HttpRequest, inbound_id: int) -> HttpResponse:
    """Release the message into the desk; what still holds it is said on its page (422)."""
    raw_mailbox = request.POST.get("mailbox") or ""
    mailbox_id = int_or_none(raw_mailbox)
    if raw_mailbox and mailbox_id is None:
        return _held_page(request, _get(request, inbound_id), error=_("Choose a mailbox."), status=422)
    try:
        out = quarantine.quarantine_release(
            inbound_id=inbound_id,
            actor=current_admin(request),
            now=clock.now(),
            via=Via.WEB,
            mailbox_id=mailbox_id,
        )
    except ValidationFailed as exc:
        row = _get(request, inbound_id)
        why = _("It is still held: %(reason)s") % {"reason": exc.message}
        return _held_page(request, row, error=why, mailbox_id=mailbox_id, status=422)
    except NotFound:
        row = _get(request, inbound_id)  # the message is gone (404) or the mailbox is
        return _held_page(request, row, error=_("That mailbox no longer exists."), status=422)
    row = out.row
    if not out.changed:
        messages.info(request, _("That message was no longer held: nothing was changed."))
    elif row.ticket is not None:
        text = (
            _("Released: it opened ticket #%(number)s.")
            if row.status == InboundStatus.TICKET
            else _("Released: it was added to ticket #%(number)s.")
        )
        messages.success(request, text % {"number": row.ticket.number})
    else:
        messages.success(request, _("Released."))
    return redirect(reverse("console:quarantine"))


@admin_required
@require_http_methods(["GET", "POST"])
def quarantine_discard(request: HttpRequest, inbound_id: int) -> HttpResponse:
    """GET: what discarding means, to confirm. POST: discard it, back to the quarantine."""
    if request.method != "POST":
        row = _get(request, inbound_id)
        context = {"section": "quarantine", "row": row, "label": _label(row.reason)}
        return render_console(request, "console/channels/quarantine_discard.html", context)
    try:
        out = quarantine.quarantine_discard(inbound_id=inbound_id, actor=current_admin(request))
    except NotFound:
        raise Http404 from None
    if out.changed:
        messages.success(
            request, _("Discarded the message from %(sender)s.") % {"sender": out.row.sender or "—"}
        )
    else:
        messages.info(request, _("That message was no longer held: nothing was changed."))
    return redirect(reverse("console:quarantine"))


urlpatterns = [
    path("quarantine/", quarantine_list, name="quarantine"),
    path("quarantine/<int:inbound_id>/", quarantine_message, name="quarantine_message"),
    path("quarantine/<int:inbound_id>/release/", quarantine_release, name="quarantine_release"),
    path("quarantine/<int:inbound_id>/discard/", quarantine_discard, name="quarantine_discard"),
]
