"""The rows of the queue's table, written in Python: a page of 50 rows by a dozen columns rendered
as template tags cost more than everything else the page does (each cell walked the columns'
chain of `{% if %}`s), and even as `format_html` calls, a third of the page's time (every value
passed through Django's lazy-aware escaping, every label translated again for each row). What
every row shares is computed once per page (`_Page`): the translated words, the columns' opening
tags, the ticket URL's shape, the date format. The markup is exactly the template's: every value
escaped, labels translated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from sportello.queues.templatetags.queues_tags import ago, short_age
from sportello.web import labels

# A ticket id no desk reaches, replaced by each row's own in the ticket URL.
_PK_MARK = "987654321"


def _text(value: Any) -> str:
    return escape(str(value))


class _Page:
    """What the rows of one page share, in the language and time zone of the request."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.zone = timezone.get_current_timezone()
        self.datetime_format = formats.get_format("DATETIME_FORMAT")
        url = reverse("web:ticket", args=[int(_PK_MARK)])
        self.url_head, _mark, self.url_tail = url.partition(_PK_MARK)
        self.unassigned = f'<em class="muted">{_text(gettext("Unassigned"))}</em>'
        self.breached = f'<span class="badge sla-breached">{_text(gettext("Breached"))}</span>'
        self.due_in = gettext("in %(age)s")
        self.select = gettext("Select ticket %(n)s")
        self.priorities = {
            value: (key, _text(labels.priority_label(value)))
            for value, key in labels.PRIORITY_BY_VALUE.items()
        }
        self.statuses: dict[tuple[str, str], str] = {}
        self.channels: dict[str, str] = {}

    def url(self, pk: int) -> str:
        return f"{self.url_head}{pk}{self.url_tail}"

    def instant(self, value: datetime) -> tuple[str, str]:
        """The `datetime` attribute and the title (the exact instant in the viewer's zone)."""
        local = value.astimezone(self.zone)
        return local.isoformat(), _text(dateformat.format(local, self.datetime_format))

    def priority(self, value: int) -> tuple[str, str]:
        found = self.priorities.get(value)
        if found is None:
            found = self.priorities[value] = ("normal", _text(labels.priority_label(value)))
        return found

    def status(self, key: str, name: str) -> str:
        label = self.statuses.get((key, name))
        if label is None:
            label = self.statuses[key, name] = _text(labels.status_label(key, name))
        return label

    def channel(self, value: str) -> str:
        label = self.channels.get(value)
        if label is None:
            label = self.channels[value] = _text(labels.CHANNEL_LABELS.get(value, value))
        return label


def _bdi(value: Any) -> str:
    return f"<bdi>{_text(value)}</bdi>"


def _time(value: datetime, page: _Page) -> str:
    iso, title = page.instant(value)
    return (
        f'<time datetime="{iso}" title="{title}"><span aria-hidden="true">'
        f"{_text(short_age(value, page.now))}</span>"
        f'<span class="visually-hidden">{_text(ago(value, page.now))}</span></time>'
    )


def _sla(t: Any, page: _Page) -> str:
    state = t.q_sla
    if not state:
        return ""
    if state["kind"] == "breached":
        return page.breached
    iso, title = page.instant(state["at"])
    due = _text(page.due_in % {"age": short_age(state["at"], page.now)})
    return f'<time class="badge sla-{_text(state["kind"])}" datetime="{iso}" title="{title}">{due}</time>'


def _tags(t: Any) -> str:
    names = [_text(name) for name in t.q_tags]
    inner = "".join(f'<bdi class="tag">{n}</bdi>' for n in names)
    return f'<span class="qt-tag-list" title="{", ".join(names)}">{inner}</span>'


def _priority(t: Any, page: _Page) -> str:
    key, label = page.priority(t.priority)
    return f'<span class="badge prio prio-{key}">{label}</span>'


def _status(t: Any, page: _Page) -> str:
    label = page.status(t.status.key, t.status.name)
    return f'<span class="badge cat-{_text(t.status_category)}">{label}</span>'


_CELLS: dict[str, Callable[[Any, _Page, str], str]] = {
    "number": lambda t, page, url: f'<span class="num">#{_text(t.number)}</span>',
    "subject": lambda t, page, url: (
        f'<a href="{url}" data-row-link title="{_text(t.subject)}"><bdi>{_text(t.subject)}</bdi></a>'
    ),
    "requester": lambda t, page, url: _bdi(t.requester),
    "organization": lambda t, page, url: _bdi(t.organization.name) if t.organization else "",
    "department": lambda t, page, url: _bdi(t.department.name),
    "team": lambda t, page, url: _bdi(t.team.name) if t.team else "",
    "assignee": lambda t, page, url: _bdi(t.assignee.name) if t.assignee else page.unassigned,
    "status": lambda t, page, url: _status(t, page),
    "priority": lambda t, page, url: _priority(t, page),
    "sla": lambda t, page, url: _sla(t, page),
    "updated": lambda t, page, url: _time(t.updated_at, page),
    "created": lambda t, page, url: _time(t.created_at, page),
    "channel": lambda t, page, url: page.channel(t.channel),
    "tags": lambda t, page, url: _tags(t),
}


def table_rows(
    tickets: Sequence[Any], columns: Sequence[Mapping[str, Any]], *, now: datetime, may_bulk: bool
) -> SafeString:
    """The `<tr>`s of these tickets for these table columns (`id`, `key`, `label` each), with the
    selection box when the agent may change tickets in bulk; the SLA, tags and custom fields read
    what the view decorated each ticket with (`q_sla`, `q_tags`, `q_custom`)."""
    page = _Page(now)
    cells = [
        (
            c["key"],
            _CELLS.get(c["key"]),
            f'<td class="qt-{_text(c["id"])}',
            f'" data-label="{_text(c["label"])}">',
        )
        for c in columns
    ]
    out: list[str] = []
    for t in tickets:
        url = page.url(t.pk)
        out.append(f'<tr data-row class="prio-{page.priority(t.priority)[0]}">')
        if may_bulk:
            label = _text(page.select % {"n": t.number})
            out.append(
                f'<td class="qt-check"><input type="checkbox" name="ticket" value="{t.pk}:{t.version}"'
                f' aria-label="{label}" data-row-check></td>'
            )
        for key, cell, head, tail in cells:
            inner = cell(t, page, url) if cell else _bdi((t.q_custom or {}).get(key, ""))
            out.append(f"{head}{' qt-blank' if not inner else ''}{tail}{inner}</td>")
        out.append("</tr>")
    return SafeString("".join(out))
