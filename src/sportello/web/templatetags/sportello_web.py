"""Display filters for the agent UI templates (labels only; no queries, no logic)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.forms.boundfield import BoundField
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from sportello.web import labels
from sportello.web.fields import described_by

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
def role_label(value: str) -> str:
    return str(labels.ROLE_LABELS.get(value, value))


@register.filter
def age(value: datetime | None, now: datetime) -> str:
    """The coarse age of `value` at `now`: "3 hours", "2 days"."""
    return timesince(value, now, depth=1) if value else ""


@register.simple_tag
def field_aria(field: BoundField, *extra: str) -> str:
    """The description attributes of a control written by hand for `field` (the same as the
    rendered ones get, see web.fields): ` aria-describedby="…" aria-invalid="true"`; `extra`:
    other ids describing it, first."""
    ids = described_by(field, *extra)
    attrs = format_html(' aria-describedby="{}"', ids) if ids else ""
    if field.errors:
        attrs = format_html("{}{}", attrs, mark_safe(' aria-invalid="true"'))
    return attrs
