"""The per-ticket CSV export (`reports.export`): the exact columns of tickets built through the
real services (an answered e-mail solved and rated, an escalated ticket whose first response
breached), the reader's scope, the filters, the guard against spreadsheet formulas, and the
streaming in batches (one query per table per batch, nothing read before it is needed)."""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sportello.accounts.services import agent_profile_update, agent_update
from sportello.core.actors import Actor, ActorKind, Via
from sportello.reports import export
from sportello.reports.access import report_scope
from sportello.sla.tiers import ticket_escalate
from sportello.surveys.models import Survey
from sportello.surveys.services import survey_answer
from sportello.tickets import pipeline, services
from sportello.tickets.change import NewMessage
from sportello.tickets.models import Ticket
from survey_helpers import fire, move, set_policy
from testing import hand_clock
from workflow_setup import sla_policy, tier_path

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
M = timedelta(minutes=1)
LATER = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)  # when the story is read
HEADER = [
    "Number",
    "Subject",
    "Department",
    "Team",
    "Assignee",
    "Requester e-mail",
    "Organization",
    "Channel",
    "Priority",
    "Status",
    "Created (UTC)",
    "First reply at (UTC)",
    "First reply (seconds)",
    "First reply (hours)",
    "First reply, business (seconds)",
    "First reply, business (hours)",
    "Solved at (UTC)",
    "Resolution (seconds)",
    "Resolution (hours)",
    "Resolution, business (seconds)",
    "Resolution, business (hours)",
    "Reopens",
    "Replies",
    "Average response (seconds)",
    "Average response (hours)",
    "One-touch",
    "SLA first response",
    "SLA next response",
    "SLA resolution",
    "CSAT",
    "CES",
    "NPS",
    "Tier path",
    "Tags",
]


def customer_opens(
    desk: Any, at: datetime, subject: str, *, contact: Any = None, department: Any = None
) -> Ticket:
    contact = contact or desk.alice
    return pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, contact.pk, contact.name),
        via=Via.EMAIL,
        subject=subject,
        requester_id=contact.pk,
        department_id=(department or desk.books).pk,
        description=NewMessage(body="Can you help?"),
        now=at,
        fields={"channel": "email"},
    ).ticket


def agent_replies(agent: Any, ticket: Ticket, at: datetime) -> None:
    services.message_add(
        principal=agent,
        ticket_id=ticket.pk,
        via=Via.WEB,
        body="Here is what to do.",
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        status=None,
        now=at,
    )


def tagged(desk: Any, ticket: Ticket, at: datetime, *tags: str) -> None:
    services.ticket_update(
        principal=desk.admin,
        ticket_id=ticket.pk,
        via=Via.WEB,
        data={
            "tags": list(tags),
            "version": Ticket.objects.values_list("version", flat=True).get(pk=ticket.pk),
        },
        now=at,
    )


@pytest.fixture
def story(desk: Any, now: datetime, monkeypatch: pytest.MonkeyPatch) -> dict[str, Ticket]:
    """Monday 2 November (UTC), every ticket under the standard policy (first response within an
    hour, resolution within 8 hours), Books surveyed on a 1-to-5 scale with CES and NPS, Books'
    tier path Tier 1 → Tier 2 → Engineering. Read at 14:30 by Bruno, supervisor of Books.

    - "Wrong edition": Alice (Acme) writes at 9:30 and Bruno is assigned; he answers at 10:00,
      solves it at 11:30; she rates it 4 of 5 (CES 6, NPS 9). Tagged gift, urgent-review.
    - "Damaged cover": Bob writes at 10:30; nobody answers; Bruno escalates it to Tier 2 at 11:00.
    - "Dead battery": Alice writes to Electronics at 10:00 (not Bruno's department)."""
    sla_policy(desk, now)
    set_policy(desk, now, scale="five", ask_ces=True, ask_nps=True)
    tier_path(desk, now)
    wrong = customer_opens(desk, now, "Wrong edition")
    pipeline.ticket_apply(
        ticket_id=wrong.pk,
        mutation=pipeline.Mutation(
            actor=Actor(ActorKind.AGENT, desk.admin.pk, desk.admin.name),
            via=Via.WEB,
            fields={"assignee": desk.agent.pk},
        ),
        now=now + M,
    )
    dead = customer_opens(desk, now + 30 * M, "Dead battery", department=desk.electronics)
    agent_replies(desk.agent, wrong, now + 30 * M)
    tagged(desk, wrong, now + 40 * M, "gift", "urgent-review")
    damaged = customer_opens(desk, now + H, "Damaged cover", contact=desk.bob)
    ticket_escalate(actor=desk.agent, ticket_id=damaged.pk, reason="Needs a second look", now=now + 90 * M)
    move(desk, wrong, "solved", now + 2 * H)
    assert fire(now + 3 * H) == ["sent"]
    survey_answer(survey=Survey.objects.get(ticket=wrong), rating=4, ces=6, nps=9, now=now + 4 * H)
    hand_clock(monkeypatch, now + 5 * H)
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    desk.agent.refresh_from_db()
    return {"wrong": wrong, "damaged": damaged, "dead": dead}


def rows_of(lines: Iterator[str]) -> list[list[str]]:
    text = "".join(lines)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def exported(user: Any, **filters: Any) -> list[list[str]]:
    return rows_of(
        export.ticket_csv(
            scope=report_scope(user), filters=export.ExportFilters(**filters), zone=ZoneInfo("UTC"), now=LATER
        )
    )


def test_the_columns_of_built_tickets_are_exact(desk: Any, story: dict[str, Ticket]) -> None:
    wrong, damaged = story["wrong"], story["damaged"]
    assert exported(desk.agent) == [
        HEADER,
        [
            str(wrong.number),
            "Wrong edition",
            "Books",
            "Novels",
            "Bruno Books",
            "alice@acme.test",
            "Acme",
            "Email",
            "Normal",
            "Solved",
            "2026-11-02 09:30:00",
            "2026-11-02 10:00:00",
            "1800",
            "0.5",
            "1800",
            "0.5",
            "2026-11-02 11:30:00",
            "7200",
            "2.0",
            "7200",
            "2.0",
            "0",
            "1",
            "1800",
            "0.5",
            "yes",
            "met",
            "",
            "met",
            "Good (4/5)",
            "6",
            "9",
            "Tier 1",
            "gift, urgent-review",
        ],
        [
            str(damaged.number),
            "Damaged cover",
            "Books",
            "Second line",
            "",
            "bob@example.test",
            "",
            "Email",
            "Normal",
            "New",
            "2026-11-02 10:30:00",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "0",
            "0",
            "",
            "",
            "no",
            "breached",
            "",
            "running",
            "",
            "",
            "",
            "Tier 1 → Tier 2",
            "",
        ],
    ]


def test_an_admin_exports_every_department_and_times_follow_the_viewers_zone(
    desk: Any, story: dict[str, Ticket]
) -> None:
    rows = rows_of(
        export.ticket_csv(
            scope=report_scope(desk.admin),
            filters=export.ExportFilters(),
            zone=ZoneInfo("Europe/Rome"),
            now=LATER,
        )
    )
    assert rows[0][10] == "Created (Europe/Rome)"
    assert [(r[1], r[2], r[10]) for r in rows[1:]] == [
        ("Wrong edition", "Books", "2026-11-02 10:30:00"),
        ("Dead battery", "Electronics", "2026-11-02 11:00:00"),
        ("Damaged cover", "Books", "2026-11-02 11:30:00"),
    ]


def test_filters(desk: Any, story: dict[str, Ticket], now: datetime) -> None:
    def subjects(**filters: Any) -> list[str]:
        return [r[1] for r in exported(desk.admin, **filters)[1:]]

    assert subjects(start=now + 20 * M, end=now + 2 * H) == ["Dead battery", "Damaged cover"]
    assert subjects(start=now + 20 * M, end=now + 2 * H, dates="solved") == []
    assert subjects(start=now + 2 * H, end=now + 3 * H, dates="solved") == ["Wrong edition"]
    assert subjects(department_id=desk.electronics.pk) == ["Dead battery"]
    assert subjects(assignee_id=desk.agent.pk) == ["Wrong edition"]
    assert subjects(status="new") == ["Dead battery", "Damaged cover"]
    assert subjects(channel="email", status="solved") == ["Wrong edition"]
    assert subjects(channel="phone") == []


def test_filters_that_read_wrong_are_refused(desk: Any, story: dict[str, Ticket], now: datetime) -> None:
    from sportello.core.errors import NotFound, ValidationFailed

    scope = report_scope(desk.agent)
    for filters, field in [
        ({"channel": "fax"}, "channel"),
        ({"status": "nowhere"}, "status"),
        ({"assignee_id": desk.light.pk}, "assignee_id"),
        ({"dates": "closed"}, "dates"),
        ({"start": now, "end": now - H}, "to"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            export.ticket_csv(scope=scope, filters=export.ExportFilters(**filters), zone=UTC, now=LATER)
        assert caught.value.field == field
    with pytest.raises(NotFound):  # another department: as a missing one
        export.ticket_csv(
            scope=scope, filters=export.ExportFilters(department_id=desk.electronics.pk), zone=UTC, now=LATER
        )


def test_cells_that_would_start_a_formula_are_quoted(desk: Any, now: datetime) -> None:
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    desk.agent.refresh_from_db()
    for subject in ("=SUM(A1:A9)", "+1", "-2", "@cmd", "plain"):
        customer_opens(desk, now, subject)
    assert [r[1] for r in exported(desk.agent)[1:]] == [
        "'=SUM(A1:A9)",
        "'+1",
        "'-2",
        "'@cmd",
        "plain",
    ]


@pytest.mark.parametrize(
    ("instances", "outcome"),
    [
        ([], (None, 0, 0)),
        ([(False, False, False)], (export.Outcome.NO_TARGET, 0, 0)),
        ([(True, False, False)], (export.Outcome.MET, 0, 1)),
        ([(True, False, True)], (export.Outcome.RUNNING, 0, 1)),
        ([(True, True, True)], (export.Outcome.BREACHED, 1, 1)),
        (
            [(True, True, False), (True, False, False), (True, True, False), (False, False, False)],
            (export.Outcome.BREACHED, 2, 3),
        ),
        ([(True, False, False), (True, False, True)], (export.Outcome.RUNNING, 0, 2)),
    ],
)
def test_the_sla_outcome_of_a_metric(
    instances: list[tuple[bool, bool, bool]], outcome: tuple[Any, int, int]
) -> None:
    assert export.sla_outcome([export.ClockInstance(*i) for i in instances]) == outcome


def test_several_breached_instances_are_counted_in_the_cell() -> None:
    w = export.words(UTC, LATER)
    instances = [export.ClockInstance(True, True, False), export.ClockInstance(True, False, False)]
    assert w.outcome(instances) == "1 of 2 breached"
    assert w.outcome(instances[:1]) == "breached"


# -- streaming -----------------------------------------------------------------------------------------


def test_the_export_is_read_in_batches_one_query_per_table_and_only_when_needed(
    desk: Any, now: datetime
) -> None:
    # given five tickets and batches of two
    sla_policy(desk, now)
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    desk.agent.refresh_from_db()
    opened = [customer_opens(desk, now + i * M, f"Ticket {i}") for i in range(5)]
    qs = export.export_tickets(scope=report_scope(desk.agent), filters=export.ExportFilters())
    rows = export.ticket_rows(qs, export.words(UTC, LATER), batch=2)
    per_batch = 6  # tickets, facts, SLA records, SLA clocks, surveys, tags
    with CaptureQueriesContext(connection) as ctx:
        # then nothing is read before the first line is asked for
        assert len(ctx.captured_queries) == 0
        seen = []
        counts = []
        for row in rows:
            seen.append(row[0])
            counts.append(len(ctx.captured_queries))
    # each batch is read when its first line is needed, and the last (short) batch ends it
    assert seen == [str(t.number) for t in opened]
    assert counts == [per_batch, per_batch, 2 * per_batch, 2 * per_batch, 3 * per_batch]


def test_the_generator_holds_one_batch_at_a_time(desk: Any, now: datetime) -> None:
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    desk.agent.refresh_from_db()
    opened = [customer_opens(desk, now + i * M, f"Ticket {i}") for i in range(6)]
    qs = export.export_tickets(scope=report_scope(desk.agent), filters=export.ExportFilters())
    rows = export.ticket_rows(qs, export.words(UTC, LATER), batch=2)
    for _ in range(3):  # into the second batch
        next(rows)
    # what the generator holds is the second batch's tickets, nothing of the first
    held = inspect.getgeneratorlocals(rows)["page"]
    assert [r[0] for r in held] == [t.pk for t in opened[2:4]]


# -- the screen and the API -------------------------------------------------------------------------------


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def streamed(response: Any) -> list[list[str]]:
    return rows_of(iter([b"".join(response.streaming_content).decode("utf-8")]))


def test_the_export_tab_downloads_the_csv(desk: Any, story: dict[str, Ticket]) -> None:
    client = signed_in(desk.agent)
    page = client.get("/reports/export/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/reports/export/" aria-current="page"' in html
    assert '<option value="' + str(desk.books.pk) + '">Books</option>' in html
    assert ">Electronics</option>" not in html  # not the supervisor's department
    response = client.get(
        "/reports/export/", {"period": "week", "dates": "created", "status": "solved", "download": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="tickets_created_2026-11-02_2026-11-02.csv"'
    )
    rows = streamed(response)
    assert rows[0] == HEADER
    assert [r[1] for r in rows[1:]] == ["Wrong edition"]


def test_the_export_tab_names_a_problem_next_to_its_field(desk: Any, story: dict[str, Ticket]) -> None:
    client = signed_in(desk.agent)
    response = client.get(
        "/reports/export/", {"period": "custom", "from": "2026-11-02", "to": "2026-10-01", "download": "csv"}
    )
    assert response.status_code == 422
    assert (
        '<p class="error" id="period-to-error">The last day cannot be before the first.</p>'
        in response.content.decode()
    )
    response = client.get("/reports/export/", {"channel": "fax", "download": "csv"})
    assert response.status_code == 422
    assert 'id="export-channel-error"' in response.content.decode()
    assert (
        client.get("/reports/export/", {"department": desk.electronics.pk, "download": "csv"}).status_code
        == 404
    )
    assert signed_in(desk.outsider).get("/reports/export/").status_code == 403  # an agent, no supervisor


def test_the_export_speaks_the_viewers_language(desk: Any, story: dict[str, Ticket]) -> None:
    agent_profile_update(agent=desk.agent, actor=desk.agent, time_zone="Europe/Rome")
    response = signed_in(desk.agent).get(
        "/reports/export/", {"download": "csv"}, headers={"accept-language": "es"}
    )
    rows = streamed(response)
    assert rows[0][:3] == ["Número", "Asunto", "Departamento"]
    assert rows[0][10] == "Creado (Europe/Rome)"
    assert rows[1][7:10] == ["Correo electrónico", "Normal", "Resuelto"]
    assert rows[1][25:30] == ["sí", "cumplido", "", "cumplido", "Buena (4/5)"]


def test_the_api_exports_with_the_same_filters_and_scope(
    desk: Any, story: dict[str, Ticket], api: Any
) -> None:
    r = api(desk.agent).get(
        "/reports/tickets.csv", {"from": "2026-11-02T10:00:00Z", "to": "2026-11-02T12:00:00Z"}
    )
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert [row[1] for row in streamed(r)[1:]] == ["Damaged cover"]
    r = api(desk.admin).get("/reports/tickets.csv", {"dates": "solved", "from": "2026-11-02T00:00:00Z"})
    assert [row[1] for row in streamed(r)[1:]] == ["Wrong edition"]
    assert (
        api(desk.agent).get("/reports/tickets.csv", {"department_id": desk.electronics.pk}).status_code == 404
    )
    assert api(desk.outsider).get("/reports/tickets.csv").status_code == 403
    assert api(desk.light).get("/reports/tickets.csv").status_code == 403
    assert api(None).get("/reports/tickets.csv").status_code == 401
    bad = api(desk.admin).get("/reports/tickets.csv", {"from": "2026-11-02T00:00:00"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "from"
    assert (
        api(desk.admin).get("/reports/tickets.csv", {"channel": "fax"}).json()["error"]["field"] == "channel"
    )
