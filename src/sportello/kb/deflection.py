"""Suggestion events and deflection, counted honestly.

Events (`SuggestionEvent`): a list of suggestions shown, a suggestion opened from it, "This
solved my problem" clicked, a request submitted from the same portal session. Opening and
"solved" are recorded once per shown list and article, however often they are clicked.

Deflection (`deflection_stats`) counts portal *sessions*, customers only. A session engaged when
a suggestion shown in it was opened or marked as solving the problem; its clock starts at the
first such event. An engaged session is **deflected** when
1. "This solved my problem" was clicked, or no request was submitted in that session after the
   engagement (the request was abandoned); and
2. the same person opened no ticket within 7 days of the engagement: for a signed-in contact,
   no ticket of theirs (from any channel) created in those 7 days; for an anonymous session,
   only the requests submitted from that same session count (we cannot tell who the visitor
   is, so a ticket they later send by e-mail is not seen — the figure is an upper bound there);
3. and the 7 days have passed: a younger engagement is reported as `pending`, not deflected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from sportello.core.errors import NotFound
from sportello.tickets.models import Ticket

from .models_suggest import SuggestionAudience, SuggestionEvent

WINDOW = timedelta(days=7)
QUERY_CHARS = 500


def session_fingerprint(session_key: str | None) -> str:
    """The stored stand-in for a session key (a hash: the key itself is a credential)."""
    if not session_key:
        return ""
    return hashlib.sha256(f"kb-suggest:{session_key}".encode()).hexdigest()


@transaction.atomic
def suggestion_shown(
    *,
    article_ids: Sequence[int],
    text: str,
    language: str,
    audience: str,
    session: str,
    contact_id: int | None,
    department_id: int | None,
    ticket_id: int | None = None,
    now: datetime,
) -> SuggestionEvent:
    """Record a list of suggestions shown (`article_ids` in the order shown)."""
    return SuggestionEvent.objects.create(
        kind=SuggestionEvent.Kind.SHOWN,
        audience=audience,
        session=session,
        contact_id=contact_id,
        department_id=department_id,
        ticket_id=ticket_id,
        language=language[:10],
        query=text[:QUERY_CHARS],
        article_ids=[int(a) for a in article_ids],
        created_at=now,
    )


def _shown_for(*, shown_id: int, article_id: int, session: str, contact_id: int | None) -> SuggestionEvent:
    """The shown list `shown_id`, when it was shown to this viewer and listed `article_id`."""
    try:
        shown = SuggestionEvent.objects.get(pk=shown_id, kind=SuggestionEvent.Kind.SHOWN)
    except (SuggestionEvent.DoesNotExist, ValueError, OverflowError):
        raise NotFound("suggestion not found") from None
    same_viewer = (session and shown.session == session) or (
        contact_id is not None and shown.contact_id == contact_id
    )
    if not same_viewer or article_id not in shown.article_ids:
        raise NotFound("suggestion not found")
    return shown


def _followup(
    *, kind: str, shown_id: int, article_id: int, session: str, contact_id: int | None, now: datetime
) -> SuggestionEvent:
    shown = _shown_for(shown_id=shown_id, article_id=article_id, session=session, contact_id=contact_id)
    existing = SuggestionEvent.objects.filter(shown=shown, article_id=article_id, kind=kind).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return SuggestionEvent.objects.create(
                kind=kind,
                audience=shown.audience,
                session=shown.session,
                contact_id=contact_id if contact_id is not None else shown.contact_id,
                shown=shown,
                article_id=article_id,
                department_id=shown.department_id,
                language=shown.language,
                created_at=now,
            )
    except IntegrityError:  # the same click, recorded by a concurrent request
        return SuggestionEvent.objects.get(shown=shown, article_id=article_id, kind=kind)


@transaction.atomic
def suggestion_opened(
    *, shown_id: int, article_id: int, session: str, contact_id: int | None, now: datetime
) -> SuggestionEvent:
    """Record that the viewer opened `article_id` from the list `shown_id` (once). Called by the
    article page when it is reached with `?from=suggest&s=<shown_id>`. NotFound when the list
    was not shown to this viewer or did not hold the article."""
    return _followup(
        kind=SuggestionEvent.Kind.OPENED,
        shown_id=shown_id,
        article_id=article_id,
        session=session,
        contact_id=contact_id,
        now=now,
    )


@transaction.atomic
def suggestion_solved(
    *, shown_id: int, article_id: int, session: str, contact_id: int | None, now: datetime
) -> SuggestionEvent:
    """Record "This solved my problem" for `article_id` of the list `shown_id` (once)."""
    return _followup(
        kind=SuggestionEvent.Kind.SOLVED,
        shown_id=shown_id,
        article_id=article_id,
        session=session,
        contact_id=contact_id,
        now=now,
    )


@transaction.atomic
def suggestion_request_submitted(
    *, session: str, contact_id: int | None, ticket_id: int | None, now: datetime
) -> SuggestionEvent:
    """Record that a request was submitted from a portal session (called by the portal's request
    form after the ticket is opened)."""
    return SuggestionEvent.objects.create(
        kind=SuggestionEvent.Kind.SUBMITTED,
        audience=SuggestionAudience.CUSTOMER,
        session=session,
        contact_id=contact_id,
        ticket_id=ticket_id,
        created_at=now,
    )


@dataclass(frozen=True, slots=True)
class DeflectionStats:
    since: datetime
    until: datetime
    sessions_shown: int  # portal sessions shown at least one suggestion in [since, until)
    sessions_engaged: int  # of those, sessions that opened a suggestion or marked one as solving
    solved_clicks: int  # engaged sessions that clicked "This solved my problem"
    deflected: int
    not_deflected: int
    pending: int  # engaged less than 7 days before `now`: not decided yet
    rate: float | None  # deflected / (deflected + not_deflected); None when nothing is decided

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def deflection_stats(*, since: datetime, until: datetime, now: datetime) -> DeflectionStats:
    customer = SuggestionEvent.objects.filter(audience=SuggestionAudience.CUSTOMER).exclude(session="")
    sessions_shown = (
        customer.filter(kind=SuggestionEvent.Kind.SHOWN, created_at__gte=since, created_at__lt=until)
        .values("session")
        .distinct()
        .count()
    )
    engagements = customer.filter(
        kind__in=[SuggestionEvent.Kind.OPENED, SuggestionEvent.Kind.SOLVED],
        created_at__gte=since,
        created_at__lt=until,
    ).values_list("session", "created_at", "kind", "contact_id")
    started: dict[str, datetime] = {}
    solved: set[str] = set()
    contacts: dict[str, int] = {}
    for session, created_at, kind, engaged_id in engagements:
        if session not in started or created_at < started[session]:
            started[session] = created_at
        if kind == SuggestionEvent.Kind.SOLVED:
            solved.add(session)
        if engaged_id is not None:
            contacts[session] = engaged_id
    if not started:
        return DeflectionStats(since, until, sessions_shown, 0, 0, 0, 0, 0, None)

    earliest = min(started.values())
    submitted: dict[str, list[datetime]] = {}
    for session, created_at, submitter_id in customer.filter(
        kind=SuggestionEvent.Kind.SUBMITTED, session__in=list(started), created_at__gte=earliest
    ).values_list("session", "created_at", "contact_id"):
        submitted.setdefault(session, []).append(created_at)
        if submitter_id is not None:
            contacts.setdefault(session, submitter_id)
    # Any event of the session may say who the contact is (signed in after the first search).
    for session, known_id in (
        customer.filter(session__in=list(started), contact__isnull=False)
        .values_list("session", "contact_id")
        .distinct()
    ):
        contacts.setdefault(session, known_id)
    tickets: dict[int, list[datetime]] = {}
    for requester_id, created_at in Ticket.objects.filter(
        requester_id__in=set(contacts.values()),
        created_at__gte=earliest,
        created_at__lt=max(started.values()) + WINDOW,
    ).values_list("requester_id", "created_at"):
        tickets.setdefault(requester_id, []).append(created_at)

    deflected = not_deflected = pending = 0
    for session, start in started.items():
        end = start + WINDOW
        in_session = [t for t in submitted.get(session, []) if t >= start]
        abandoned = not in_session
        who = contacts.get(session)
        if who is not None:
            came_back = any(start <= t < end for t in tickets.get(who, []))
        else:
            came_back = any(t < end for t in in_session)
        if not (session in solved or abandoned) or came_back:
            not_deflected += 1
        elif now < end:
            pending += 1
        else:
            deflected += 1
    decided = deflected + not_deflected
    return DeflectionStats(
        since=since,
        until=until,
        sessions_shown=sessions_shown,
        sessions_engaged=len(started),
        solved_clicks=len(solved),
        deflected=deflected,
        not_deflected=not_deflected,
        pending=pending,
        rate=round(deflected / decided, 4) if decided else None,
    )
