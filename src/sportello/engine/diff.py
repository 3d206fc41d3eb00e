"""Differences between two snapshots of a ticket, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """Field changes from `before` to `after`, in a stable order. Nested custom fields are
    reported one by one as `custom_fields.<key>`; tags as one `tags` change of sorted lists."""
    changes: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key == "custom_fields":
            old_cf: Mapping[str, Any] = old or {}
            new_cf: Mapping[str, Any] = new or {}
            for cf in sorted(set(old_cf) | set(new_cf)):
                if old_cf.get(cf) != new_cf.get(cf):
                    changes.append(FieldChange(f"custom_fields.{cf}", old_cf.get(cf), new_cf.get(cf)))
        elif old != new:
            changes.append(FieldChange(key, old, new))
    return changes
