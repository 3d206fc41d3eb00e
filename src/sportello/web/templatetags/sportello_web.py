"""Display filters for the agent UI templates (labels only; no queries, no logic)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.timesince import timesince

from sportello.web import labels

register = template.Library()


@register.filter
def status_label(key: str, name: str = "") -> str:
    return labels.status_label(key, name)


@register.filter
def priority_label(value: int | str) -> str:
    return labels.priority_label(value)


@register.filter
def priority_key(value: int) -> str:
    return labels.PRIORITY_BY_VALUE.get(value, "normal")


@register.filter
def channel_label(value: str) -> str:
    return str(labels.CHANNEL_LABELS.get(value, value))


@register.filter
def age(value: datetime | None, now: datetime) -> str:
    """The coarse age of `value` at `now`: "3 hours", "2 days"."""
    return timesince(value, now, depth=1) if value else ""
