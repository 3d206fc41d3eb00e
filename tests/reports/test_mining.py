"""Process mining over the audit trail: a department's status flow and a blueprint, built
through the real services (tickets moving through statuses, a reopening, a tier bounce, a
blueprint run), read within the reader's scope; the page and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.services import agent_update
from sportello.blueprints.selectors import Period
from sportello.core.actors import Via
from sportello.core.errors import NotFound, ValidationFailed
from sportello.engine.mining import DeviationKind
from sportello.reports import mining as selectors
from sportello.reports.access import report_scope
from sportello.sla.tiers import ticket_escalate
from sportello.tickets import services
from sportello.tickets.models import Ticket
from testing import NOW, hand_clock
from workflow_setup import returns_definition, returns_fields, tier_path

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
PERIOD = Period(start=NOW - 24 * H, end=NOW + 30 * 24 * H)


def open_ticket(desk: Any, at: datetime, subject: str = "Missing pages", **data: Any) -> Ticket:
    body = {
        "subject": subject,
        "description": "Help.",
        "department_id": desk.books.pk,
        "requester_id": desk.alice.pk,
    }
    return services.ticket_open(principal=desk.agent, via=Via.API, data={**body, **data}, now=at).ticket


def update(desk: Any, ticket: Ticket, at: datetime, by: Any = None, **data: Any) -> None:
    ticket.refresh_from_db()
    services.ticket_update(
        principal=by or desk.agent,
        ticket_id=ticket.pk,
        via=Via.API,
        data={**data, "version": ticket.version},
        now=at,
    )


@pytest.fixture
def supervisor(desk: Any) -> Any:
    return agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)


@pytest.fixture
def history(desk: Any, supervisor: Any) -> dict[str, Ticket]:
    """Four Books tickets and one in Electronics:
    a: new 1h → open 2h → solved 10h → closed (the design);
    b: new 3h → open 1h → solved 2h → open (reopened) 1h → solved;
    c: new 1h → open, escalated to tier 2, then moved back to tier 1's team (a bounce);
    d: new → closed after 5h (skipped solving);
    e: in Electronics, new → open."""
    teams = tier_path(desk, NOW)
    a = open_ticket(desk, NOW)
    update(desk, a, NOW + H, status="open")
    update(desk, a, NOW + 3 * H, status="solved")
    update(desk, a, NOW + 13 * H, status="closed")
    b = open_ticket(desk, NOW + H)
    update(desk, b, NOW + 4 * H, status="open")
    update(desk, b, NOW + 5 * H, status="solved")
    update(desk, b, NOW + 7 * H, status="open")
    update(desk, b, NOW + 8 * H, status="solved")
    c = open_ticket(desk, NOW + 2 * H)
    update(desk, c, NOW + 3 * H, status="open")
    ticket_escalate(actor=desk.agent, ticket_id=c.pk, reason="Needs the second line", now=NOW + 4 * H)
    update(desk, c, NOW + 5 * H, team_id=desk.team.pk)
    d = open_ticket(desk, NOW + 3 * H)
    update(desk, d, NOW + 8 * H, status="closed", by=desk.admin)
    e = services.ticket_open(
        principal=desk.outsider,
        via=Via.API,
        data={
            "subject": "Broken",
            "description": "x",
            "department_id": desk.electronics.pk,
            "requester_id": desk.bob.pk,
        },
        now=NOW,
    ).ticket
    update(desk, e, NOW + H, status="open", by=desk.outsider)
    assert teams["t2"].pk != desk.team.pk
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def figures(user: Any, source: str, period: Period = PERIOD) -> Any:
    log = selectors.process_log(scope=report_scope(user), source=source, period=period)
    return selectors.process_figures(log)


def test_status_flow_graph_variants_conformance_and_bottleneck(desk: Any, history: dict[str, Ticket]) -> None:
    f = figures(desk.admin, f"department:{desk.books.pk}")
    m = f.mining
    assert (m.cases, m.completed) == (4, 2)
    edges = {(e.source, e.target): (e.count, e.median_wait, e.allowed) for e in m.edges}
    assert edges == {
        ("new", "open"): (3, H, True),  # a 1h, b 3h, c 1h
        ("new", "closed"): (1, 5 * H, False),
        ("open", "solved"): (3, H, True),  # a 2h, b 1h, b 1h
        ("solved", "closed"): (1, 10 * H, True),
        ("solved", "open"): (1, 2 * H, False),
    }
    # One ticket each: ties in the designed order of their steps.
    assert [(v.activities, v.count) for v in m.variants] == [
        (("new", "open"), 1),
        (("new", "open", "solved", "open", "solved"), 1),
        (("new", "open", "solved", "closed"), 1),
        (("new", "closed"), 1),
    ]
    assert (m.conforming, m.conforming_share) == (1, 0.25)
    b, c, d = (history[k].pk for k in "bcd")
    assert m.deviation(DeviationKind.REOPENED).cases == (b,)
    assert m.deviation(DeviationKind.BOUNCED).cases == (c,)
    assert m.deviation(DeviationKind.SKIPPED).cases == (d,)
    assert m.deviation(DeviationKind.OTHER).cases == ()
    # The bottleneck: new (1h, 3h, 1h, 5h: a median of 2h) against open (2h, 1h, 1h).
    assert m.bottleneck is not None
    assert (m.bottleneck.activity, m.bottleneck.median_time, m.bottleneck.total_time) == (
        "new",
        2 * H,
        10 * H,
    )
    assert f.numbers[b] == history["b"].number
    # Resources: who made each change.
    log = selectors.process_log(
        scope=report_scope(desk.admin), source=f"department:{desk.books.pk}", period=PERIOD
    )
    first = next(iter(log.cases()))
    assert [(e.activity, e.resource) for e in first.case.events] == [
        ("new", "bruno@desk.test"),
        ("open", "bruno@desk.test"),
        ("solved", "bruno@desk.test"),
        ("closed", "bruno@desk.test"),
    ]
    assert (first.number, first.department) == (history["a"].number, "Books")


def test_period_counts_the_cases_that_started_in_it(desk: Any, history: dict[str, Ticket]) -> None:
    # Tickets b, c and d started from NOW + 1h; the events after the period's end are not read.
    m = figures(desk.admin, f"department:{desk.books.pk}", Period(start=NOW + H, end=NOW + 7.5 * H)).mining
    assert m.cases == 3
    assert m.deviation(DeviationKind.REOPENED).cases == (history["b"].pk,)
    assert {e.source for e in m.edges} == {"new", "open", "solved"}
    assert ("solved", "open") in {(e.source, e.target) for e in m.edges}
    # d was closed at NOW + 8h: after the period, it is still new.
    assert ("new", "closed") not in {(e.source, e.target) for e in m.edges}


def test_blueprint_run(desk: Any, supervisor: Any) -> None:
    from sportello.blueprints.services import TransitionRequest, blueprint_save, blueprint_transition

    returns_fields(desk)
    blueprint_save(definition=returns_definition(desk), actor=desk.admin, now=NOW)
    done = open_ticket(desk, NOW, custom_fields={"kind": "return"})
    blueprint_transition(
        actor=desk.agent,
        ticket_id=done.pk,
        transition_key="label-sent",
        inputs=TransitionRequest(custom_fields={"order_id": "AB123456"}, note="Label sent"),
        now=NOW + 2 * H,
    )
    blueprint_transition(
        actor=desk.admin,
        ticket_id=done.pk,
        transition_key="refund",
        inputs=TransitionRequest(custom_fields={"refund_amount": "10"}),
        now=NOW + 5 * H,
    )
    waiting = open_ticket(desk, NOW + H, custom_fields={"kind": "return"})
    open_ticket(desk, NOW + H, custom_fields={"kind": "exchange"})  # in no process

    f = figures(supervisor, "blueprint:returns")
    m = f.mining
    assert (m.cases, m.completed, m.conforming) == (2, 1, 2)
    assert [(e.source, e.target, e.count, e.median_wait, e.allowed) for e in m.edges] == [
        ("received", "awaiting-item", 1, 2 * H, True),
        ("awaiting-item", "refunded", 1, 3 * H, True),
    ]
    assert [v.activities for v in m.variants] == [("received",), ("received", "awaiting-item", "refunded")]
    assert m.bottleneck is not None
    assert m.bottleneck.activity == "awaiting-item"
    assert f.log.labels["awaiting-item"] == "Awaiting the item"
    assert waiting.pk in {c.case.id for c in f.log.cases()}


def test_scope_keeps_supervisors_to_their_departments(
    desk: Any, history: dict[str, Ticket], supervisor: Any
) -> None:
    assert figures(supervisor, f"department:{desk.books.pk}").mining.cases == 4
    with pytest.raises(NotFound):
        figures(supervisor, f"department:{desk.electronics.pk}")
    with pytest.raises(NotFound):
        figures(supervisor, "department:999999")
    with pytest.raises(NotFound):
        figures(supervisor, "blueprint:nope")
    with pytest.raises(ValidationFailed):
        figures(supervisor, "department:x")
    assert figures(desk.admin, f"department:{desk.electronics.pk}").mining.cases == 1
    tokens = [s.token for s in selectors.process_sources(scope=report_scope(supervisor))]
    assert tokens == [f"department:{desk.books.pk}"]


def test_reads_in_pages_with_a_bounded_number_of_queries(
    desk: Any, history: dict[str, Ticket], monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    monkeypatch.setattr(selectors, "BATCH", 2)
    log = selectors.process_log(
        scope=report_scope(desk.admin), source=f"department:{desk.books.pk}", period=PERIOD
    )
    # Two pages of two tickets (and the empty third one): tier paths once, then per page the
    # tickets, their numbers and their events.
    with django_assert_max_num_queries(1 + 3 * 2 + 1):
        assert len(list(log.cases())) == 4
    monkeypatch.setattr(selectors, "CASES_MAX", 3)
    f = selectors.process_figures(log)
    assert (f.mining.cases, f.truncated) == (3, True)


def test_page_for_supervisors_with_map_tables_and_examples(
    desk: Any, history: dict[str, Ticket], supervisor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_clock(monkeypatch, NOW + 24 * H)
    client = Client()
    client.force_login(supervisor)
    page = client.get("/reports/process/", {"source": f"department:{desk.books.pk}"})
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert 'role="img"' in html
    assert 'href="/reports/process/"' in html
    assert 'aria-current="page"' in html
    assert f'href="/tickets/{history["b"].pk}/">#{history["b"].number}</a>' in html
    assert "Reopened after being solved" in html
    assert "Bounced back to a lower tier" in html
    assert "Electronics" not in html.split("process-filters", 1)[1].split("</form>", 1)[0]
    assert "export.csv?source=department" in html
    # Another department's flow: not found; an agent who is not a supervisor: forbidden.
    assert client.get("/reports/process/", {"source": f"department:{desk.electronics.pk}"}).status_code == 404
    other = Client()
    other.force_login(desk.outsider)
    assert other.get("/reports/process/").status_code == 403
    # In Spanish, the statuses and headings are translated.
    client.cookies["django_language"] = "es"
    html = client.get(
        "/reports/process/", {"source": f"department:{desk.books.pk}"}, HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Mapa del proceso" in html
    assert "Resuelto" in html


def test_empty_period_says_what_to_do(desk: Any, supervisor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hand_clock(monkeypatch, NOW)
    client = Client()
    client.force_login(supervisor)
    html = client.get("/reports/process/").content.decode()
    assert "No tickets started in this period" in html


def test_api_figures_and_permissions(
    desk: Any, history: dict[str, Ticket], supervisor: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_clock(monkeypatch, NOW + 24 * H)
    params = {"source": f"department:{desk.books.pk}", "from": "2026-11-01T00:00:00Z"}
    r = api(supervisor).get("/reports/process", params)
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["cases"], body["conforming"], body["conforming_share"]) == (4, 1, 0.25)
    assert body["bottleneck"]["key"] == "new"
    assert body["bottleneck"]["median_seconds"] == 7200
    kinds = {d["kind"]: d for d in body["deviations"]}
    assert kinds["reopened"]["tickets"] == [{"id": history["b"].pk, "number": history["b"].number}]
    assert kinds["reopened"]["steps"] == [["solved", "open"]]
    assert {
        "source": "new",
        "target": "closed",
        "count": 1,
        "median_wait_seconds": 18000,
        "allowed": False,
    } in body["edges"]
    assert ["solved", "closed"] in body["designed"]["edges"]
    assert body["designed"]["starts"] == ["new"]
    assert (
        api(supervisor)
        .get("/reports/process", {**params, "source": f"department:{desk.electronics.pk}"})
        .status_code
        == 404
    )
    assert api(supervisor).get("/reports/process", {**params, "source": "nonsense"}).status_code == 422
    assert api(desk.outsider).get("/reports/process", params).status_code == 403
    assert api(desk.light).get("/reports/process", params).status_code == 403
    assert api(None).get("/reports/process", params).status_code == 401
    assert (
        api(desk.admin)
        .get("/reports/process", {**params, "source": f"department:{desk.electronics.pk}"})
        .json()["cases"]
        == 1
    )


def test_odd_input_is_refused_clearly(
    desk: Any, supervisor: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_clock(monkeypatch, NOW)
    client = api(desk.admin)
    for source in (
        "department:99999999999999999999999",
        "department:٣",
        "blueprint:a\x00b",
        "blueprint:",
        "x",
    ):
        response = client.get("/reports/process", {"source": source})
        assert response.status_code == 422, source
        assert response.json()["error"]["field"] == "source"
    early = client.get(
        "/reports/process", {"source": f"department:{desk.books.pk}", "to": "0001-01-01T00:00:00Z"}
    )
    assert early.status_code == 422
    page = Client()
    page.force_login(supervisor)
    html = page.get("/reports/process/", {"from": "9999-12-30", "to": "9999-12-31"}).content.decode()
    assert "Choose dates from the past up to today." in html
    html = page.get("/reports/process/", {"from": "2026-13-01"}).content.decode()
    assert "Enter a date like 2026-11-30." in html
    assert page.get("/reports/process/", {"source": "department:abc"}).status_code == 404


def test_page_statements_are_pinned(
    desk: Any,
    history: dict[str, Ticket],
    supervisor: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    # Session and reader (2), the reader's departments (1), the sources: departments and
    # blueprints (2), the source's department and statuses (2), tier paths (1), one page of
    # tickets with their numbers and events (3), the example tickets' numbers (1).
    hand_clock(monkeypatch, NOW + 24 * H)
    client = Client()
    client.force_login(supervisor)
    client.get("/reports/process/")
    with django_assert_num_queries(12):
        assert client.get("/reports/process/").status_code == 200
