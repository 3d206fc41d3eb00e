from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext

from sportello.queues import labels
from sportello.queues.columns import table_fits

register = template.Library()


@register.filter
def view_label(view: Any) -> str:
    return labels.view_name(view.key, view.name)


@register.simple_tag
def sidebar_items(views: list[Any], counts: dict[int, int] | None, current: Any) -> SafeString:
    """The sidebar's `<li>`s: each view with its count, the current one marked; the agent's own
    views under their heading after the shared ones. Written here rather than as a template loop
    (a URL, two labels and a translation for each view, on every counts refresh)."""
    home = reverse("web:home")
    tickets = escape(gettext("tickets"))
    heading = f'</ul><h2 class="qv-side-title">{escape(gettext("My views"))}</h2><ul class="qv-list">'
    out: list[str] = []
    shared: bool | None = None
    for v in views:
        if v.shared != shared:
            shared = v.shared
            if not shared:
                out.append(heading)
        label = escape(labels.view_name(v.key, v.name))
        number = escape(str(localize((counts or {}).get(v.pk, ""))))
        here = 'aria-current="page"' if current is not None and v.pk == current.pk else ""
        out.append(
            f'<li><a href="{home}?view={v.pk}" title="{label}" {here}><bdi class="qv-name">{label}</bdi>'
            f'<span class="qv-count">{number}<span class="visually-hidden"> {tickets}</span></span></a></li>'
        )
    return SafeString("".join(out))


@register.filter
def ago(value: datetime | None, now: datetime) -> str:
    """ "just now" under a minute, else "3 hours ago" (the coarse age, as elsewhere on the Desk)."""
    if value is None:
        return ""
    if now - value < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(age)s ago") % {"age": timesince(value, now, depth=1)}


@register.filter
def short_age(value: datetime | None, now: datetime) -> str:
    """The distance between `value` and `now` in one short unit, for a dense column: "now",
    "12 min", "5 h", "3 d", "4 mo", "2 y" (the exact instant goes in the cell's title)."""
    if value is None:
        return ""
    seconds = int(abs((now - value).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 1:
        return gettext("now")
    if hours < 1:
        return gettext("%(n)d min") % {"n": minutes}
    if days < 1:
        return gettext("%(n)d h") % {"n": hours}
    if days < 45:
        return gettext("%(n)d d") % {"n": days}
    if days < 365:
        return gettext("%(n)d mo") % {"n": days // 30}
    return gettext("%(n)d y") % {"n": days // 365}


@register.filter
def fits(columns: list[dict[str, Any]]) -> bool:
    """Whether these table columns fit a 1440 px window (else the table scrolls sideways)."""
    return table_fits([c["key"] for c in columns])
