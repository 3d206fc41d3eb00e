"""The cells of a queue row, written in Python: a page of 50 rows by a dozen columns rendered as
template tags cost more than everything else the page does (each cell walked the columns' chain of
`{% if %}`s). The markup is exactly the template's: every value escaped, labels translated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from sportello.queues.templatetags.queues_tags import ago, short_age
from sportello.tickets.models import Ticket
from sportello.web import labels


def _bdi(value: Any) -> SafeString:
    return format_html("<bdi>{}</bdi>", value)


def _instant(value: datetime) -> tuple[str, str]:
    """The `datetime` attribute and the title (the exact instant in the viewer's zone)."""
    local = timezone.localtime(value)
    return formats.date_format(local, "c"), formats.date_format(local, "DATETIME_FORMAT")


def _time(value: datetime, now: datetime) -> SafeString:
    iso, title = _instant(value)
    return format_html(
        '<time datetime="{}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></time>',
        iso,
        title,
        short_age(value, now),
        ago(value, now),
    )


def _sla(t: Any, now: datetime) -> SafeString:
    state = t.q_sla
    if not state:
        return SafeString()
    if state["kind"] == "breached":
        return format_html('<span class="badge sla-breached">{}</span>', gettext("Breached"))
    iso, title = _instant(state["at"])
    return format_html(
        '<time class="badge sla-{}" datetime="{}" title="{}">{}</time>',
        state["kind"],
        iso,
        title,
        gettext("in %(age)s") % {"age": short_age(state["at"], now)},
    )


def _tags(t: Ticket) -> SafeString:
    names = [tag.name for tag in t.tags.all()]
    return format_html(
        '<span class="qt-tag-list" title="{}">{}</span>',
        ", ".join(names),
        format_html_join("", '<bdi class="tag">{}</bdi>', ((n,) for n in names)),
    )


def _priority(t: Ticket) -> SafeString:
    return format_html(
        '<span class="badge prio prio-{}">{}</span>',
        labels.PRIORITY_BY_VALUE.get(t.priority, "normal"),
        labels.priority_label(t.priority),
    )


_CELLS: dict[str, Callable[[Any, datetime, str], SafeString]] = {
    "number": lambda t, now, url: format_html('<span class="num">#{}</span>', t.number),
    "subject": lambda t, now, url: format_html(
        '<a href="{}" data-row-link title="{}"><bdi>{}</bdi></a>', url, t.subject, t.subject
    ),
    "requester": lambda t, now, url: _bdi(t.requester),
    "organization": lambda t, now, url: _bdi(t.organization.name) if t.organization else SafeString(),
    "department": lambda t, now, url: _bdi(t.department.name),
    "team": lambda t, now, url: _bdi(t.team.name) if t.team else SafeString(),
    "assignee": lambda t, now, url: (
        _bdi(t.assignee.name)
        if t.assignee
        else format_html('<em class="muted">{}</em>', gettext("Unassigned"))
    ),
    "status": lambda t, now, url: format_html(
        '<span class="badge cat-{}">{}</span>',
        t.status_category,
        labels.status_label(t.status.key, t.status.name),
    ),
    "priority": lambda t, now, url: _priority(t),
    "sla": lambda t, now, url: _sla(t, now),
    "updated": lambda t, now, url: _time(t.updated_at, now),
    "created": lambda t, now, url: _time(t.created_at, now),
    "channel": lambda t, now, url: conditional_escape(str(labels.CHANNEL_LABELS.get(t.channel, t.channel))),
    "tags": lambda t, now, url: _tags(t),
}


def row_cells(ticket: Any, columns: Sequence[Mapping[str, Any]], *, now: datetime) -> SafeString:
    """The `<td>`s of `ticket`'s row for these table columns (`id`, `key`, `label` each); custom
    fields read the labels the view decorated the ticket with (`q_custom`)."""
    url = reverse("web:ticket", args=[ticket.pk])
    out = []
    for c in columns:
        key = c["key"]
        cell = _CELLS.get(key)
        inner = cell(ticket, now, url) if cell else _bdi((ticket.q_custom or {}).get(key, ""))
        out.append((c["id"], " qt-blank" if not inner else "", c["label"], inner))
    return format_html_join("", '<td class="qt-{}{}" data-label="{}">{}</td>', out)
