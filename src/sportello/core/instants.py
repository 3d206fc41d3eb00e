"""`Instant`: the one type for date-times an API client sends, in a query or a body.

Pydantic reads a bare number as seconds since 1970, so `?to=0.5` was an instant in January
1970; an `Instant` is an ISO 8601 string (`2026-12-01T09:00:00Z`, `2026-12-01T10:00:00+01:00`)
or a 422 naming the parameter."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

MESSAGE = "must be an ISO 8601 instant, e.g. 2026-12-01T09:00:00Z"


def _iso_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(MESSAGE)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(MESSAGE) from None


Instant = Annotated[datetime, BeforeValidator(_iso_only)]
