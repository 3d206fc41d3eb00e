from __future__ import annotations

from typing import Any

from django import template

from sportello.queues import labels

register = template.Library()


@register.filter
def lookup(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, "")


@register.filter
def view_label(view: Any) -> str:
    return labels.view_name(view.key, view.name)
