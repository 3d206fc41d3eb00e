from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils.timesince import timesince
from django.utils.translation import gettext

from sportello.queues import labels

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
