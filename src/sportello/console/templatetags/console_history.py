"""Template filters of the Console's history pages: a configuration kind's label
(`{{ kind|kind_label }}`, `{{ kind|kind_plural }}`) and a definition's value as short text."""

from __future__ import annotations

import json
from typing import Any

from django import template

from sportello.console import kinds

register = template.Library()


@register.filter
def kind_label(name: str) -> str:
    return kinds.kind_label(str(name))


@register.filter
def kind_plural(name: str) -> str:
    return kinds.kind_plural(str(name))


@register.filter
def as_value(value: Any) -> str:
    """A value of a definition as it would be written: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
