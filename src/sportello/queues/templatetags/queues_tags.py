from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils.timesince import timesince
from django.utils.translation import gettext

from sportello.queues import labels
from sportello.queues.columns import table_fits

register = template.Library()


@register.filter
def lookup(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, "")


@register.filter
def view_label(view: Any) -> str:
    return labels.view_name(view.key, view.name)


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
