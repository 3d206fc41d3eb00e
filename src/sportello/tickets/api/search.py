"""`/api/v1/search`: full-text search over the tickets the caller may read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from sportello.accounts.http import ApiRequest

from .. import search
from ..pipeline import PRIORITY_NAME

router = Router(tags=["search"])

_ID_MAX = 2**63 - 1


class SearchFilters(Schema):
    q: str = Field(
        default="",
        description=(
            'Words (all must match), "quoted phrases" and -excluded words; the last word also '
            "matches as a prefix. Case and accents are ignored."
        ),
    )
    category: str | None = Field(
        default=None, description="status categories, comma-separated, e.g. `new,open`"
    )
    department_id: int | None = Field(default=None, ge=1, le=_ID_MAX)
    limit: int = Field(default=search.LIMIT_DEFAULT, ge=1, le=search.LIMIT_MAX)
    offset: int = Field(default=0, ge=0, le=search.OFFSET_MAX)


class SearchHitOut(Schema):
    id: int
    number: int
    subject: str
    status: str
    status_category: str
    priority: str
    department_id: int
    updated_at: datetime
    rank: float = Field(description="relevance; higher is better; compare only within one search")
    snippet: str = Field(
        description="an excerpt as HTML: all text escaped, matched words inside `<mark>` elements"
    )


class SearchPage(Schema):
    items: list[SearchHitOut]
    next_offset: int | None = Field(description="pass as `offset` for the next page; null on the last")


@router.get("/search", response=SearchPage, summary="Search tickets")
def search_tickets(request: ApiRequest, filters: Query[SearchFilters]) -> dict[str, Any]:
    categories = [c.strip() for c in filters.category.split(",") if c.strip()] if filters.category else None
    hits, next_offset = search.ticket_search(
        principal=request.auth,
        q=filters.q,
        categories=categories,
        department_id=filters.department_id,
        limit=filters.limit,
        offset=filters.offset,
    )
    return {
        "items": [
            {
                "id": h.ticket.pk,
                "number": h.ticket.number,
                "subject": h.ticket.subject,
                "status": h.ticket.status.key,
                "status_category": h.ticket.status_category,
                "priority": PRIORITY_NAME[h.ticket.priority],
                "department_id": h.ticket.department_id,
                "updated_at": h.ticket.updated_at,
                "rank": h.rank,
                "snippet": h.snippet,
            }
            for h in hits
        ],
        "next_offset": next_offset,
    }
