"""Cursor (keyset) pagination: stable under inserts, O(page) at any depth.

A cursor is an opaque URL-safe token holding the sort values of the last row seen. Sort keys
must be non-null columns; `id` is always appended as the final tie-break.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Model, Q, QuerySet

from .errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool = False
    kind: str = "int"  # int | datetime | str


def page_limit(limit: int | None) -> int:
    """The page size asked for, within the configured bounds (422 on `limit` outside them)."""
    cfg = settings.SPORTELLO
    if limit is None:
        return int(cfg["API_PAGE_SIZE"])
    if limit < 1 or limit > cfg["API_PAGE_SIZE_MAX"]:
        raise ValidationFailed(f"must be between 1 and {cfg['API_PAGE_SIZE_MAX']}", field="limit")
    return limit


def parse_sort(raw: str | None, *, allowed: dict[str, SortKey], default: list[SortKey]) -> list[SortKey]:
    """`"-priority,created_at"` → sort keys. Unknown names are a 422 that names the field."""
    if not raw:
        return [*default, SortKey("id", descending=default[-1].descending if default else False)]
    keys: list[SortKey] = []
    for part in raw.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if name not in allowed:
            raise ValidationFailed(
                f"cannot sort by {name[:40]!r}; use one of {', '.join(sorted(allowed))}", field="sort"
            )
        base = allowed[name]
        keys.append(SortKey(base.field, desc, base.kind))
    if len(keys) > 3:
        raise ValidationFailed("sort by at most three fields", field="sort")
    if keys[-1].field != "id":
        keys.append(SortKey("id", descending=keys[-1].descending))
    return keys


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, keys: list[SortKey]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        out: list[Any] = []
        for key, value in zip(keys, values, strict=True):
            if key.kind == "datetime":
                out.append(datetime.fromisoformat(value))
            elif key.kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError
                out.append(value)
            else:
                out.append(str(value))
        return out
    except (ValueError, TypeError, UnicodeError, binascii.Error, json.JSONDecodeError):
        raise ValidationFailed(
            "invalid cursor (it does not belong to this listing or sort)", field="cursor"
        ) from None


def order_terms(keys: list[SortKey]) -> list[str]:
    """The `order_by` arguments of these sort keys."""
    return [f"-{k.field}" if k.descending else k.field for k in keys]


def after_cursor[M: Model](qs: QuerySet[M], *, keys: list[SortKey], cursor: str | None) -> QuerySet[M]:
    """`qs` limited to the rows after `cursor` in the order of `keys` (all of them without one);
    ValidationFailed(field="cursor") for a cursor of another listing or sort."""
    if not cursor:
        return qs
    values = _decode(cursor, keys)
    condition = Q()
    for i, key in enumerate(keys):
        step = Q(**{f"{k.field}": v for k, v in zip(keys[:i], values[:i], strict=True)})
        step &= Q(**{f"{key.field}__{'lt' if key.descending else 'gt'}": values[i]})
        condition |= step
    return qs.filter(condition)


def page_of[M: Model](rows: list[M], *, keys: list[SortKey], limit: int) -> tuple[list[M], str | None]:
    """The first `limit` of `rows` (read with one more, in the order of `keys`) and the cursor
    of the next page, None on the last."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, _encode([getattr(last, k.field if k.field != "id" else "pk") for k in keys])


def paginate[M: Model](
    qs: QuerySet[M], *, keys: list[SortKey], cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    qs = after_cursor(qs.order_by(*order_terms(keys)), keys=keys, cursor=cursor)
    return page_of(list(qs[: limit + 1]), keys=keys, limit=limit)
