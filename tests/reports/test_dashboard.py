"""The dashboard page: figures beside the previous period, scope, charts with their tables, CSV,
and drill-downs that list exactly the tickets a number counted."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from report_helpers import HOUR, open_ticket, reply, update
from sportello.accounts.services import agent_update
from sportello.core.actors import Via
from sportello.reports import drill, rollups
from sportello.reports.access import report_scope
from sportello.reports.dashboard import Filters, figures, series
from sportello.tickets import services
from testing import NOW

pytestmark = pytest.mark.django_db


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def history(desk: Any) -> dict[str, Any]:
    """Three Books tickets and one Electronics ticket on NOW's day; one Books ticket a week before."""
    a = open_ticket(desk, NOW)
    reply(desk.agent, a.pk, NOW + 2 * HOUR, status="solved")  # first reply 2 h, solved in 2 h, one touch
    b = open_ticket(desk, NOW + HOUR)
    reply(desk.agent, b.pk, NOW + 5 * HOUR)  # first reply 4 h
    c = open_ticket(desk, NOW + 2 * HOUR)
    update(desk.admin, c.pk, NOW + 3 * HOUR, department_id=desk.electronics.pk)
    e = open_ticket(desk, NOW, department=desk.electronics)
    old = open_ticket(desk, NOW - timedelta(days=7))
    services.message_add(
        principal=desk.agent, ticket_id=old.pk, via=Via.WEB, body="Done", body_html="", public=True,
        attachment_ids=[], version=None, status="solved", now=NOW - timedelta(days=7) + 8 * HOUR,
    )  # fmt: skip
    return {"a": a, "b": b, "c": c, "e": e, "old": old}


def _filters() -> Filters:
    day = rollups.day_of(NOW)
    return Filters(start=day - timedelta(days=6), end=day)


def test_figures_and_previous_period(desk: Any, history: dict[str, Any]) -> None:
    scope = report_scope(desk.admin)
    f = _filters()
    now, before = figures(scope, f), figures(scope, f.previous())
    assert now.counts["created"] == 4
    assert now.counts["solved"] == 1
    assert now.first_reply == 3 * 3600  # (2 h + 4 h) / 2
    assert now.one_touch_rate == 1.0
    assert now.backlog_end == 3  # b, c, e
    assert before.counts["created"] == 1
    assert before.counts["solved"] == 1
    assert before.resolution == 8 * 3600
    assert now.backlog_start == 0
    books = figures(scope, Filters(start=f.start, end=f.end, department=desk.books.pk))
    assert books.counts["created"] == 3  # c counted where it opened
    assert books.backlog_end == 1  # b; c moved to Electronics
    days = series(scope, f)
    assert len(days) == 7
    assert days[-1].counts["created"] == 4
    assert days[-1].backlog == 3


def test_the_page_for_admins_and_supervisors(desk: Any, history: dict[str, Any]) -> None:
    client = Client()
    client.force_login(desk.admin)
    page = client.get("/reports/", {"period": "7d"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Support overview" in html
    assert "<svg" in html
    assert "Created and solved per day" in html
    assert "Self-service deflection" in html  # desk-wide: for readers of every department
    supervisor = agent_update(agent=desk.outsider, actor=desk.admin, supervisor=True)
    client.force_login(supervisor)
    assert "Self-service deflection" not in client.get("/reports/").content.decode()
    day = rollups.day_of(NOW).isoformat()
    params = {"period": "custom", "start": day, "end": day}
    response = client.get("/reports/breakdown.csv", {**params, "group": "department"})
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert rows[0][0] == "Department"
    assert [r[0] for r in rows[1:]] == ["Electronics"]  # a supervisor sees their own departments
    assert rows[1][1] == "1"  # e; c opened in Books


def test_drill_down_lists_exactly_the_counted_tickets(desk: Any, history: dict[str, Any]) -> None:
    client = Client()
    client.force_login(desk.admin)
    day = rollups.day_of(NOW).isoformat()
    base = {"period": "custom", "start": day, "end": day}

    def numbers(**params: Any) -> list[int]:
        response = client.get("/reports/tickets/", {**base, **params, "format": "csv"})
        assert response.status_code == 200
        text = _body(response).decode("utf-8-sig")
        return sorted(int(r[0]) for r in list(csv.reader(io.StringIO(text)))[1:])

    h = history
    assert numbers(metric="created") == sorted(t.number for t in (h["a"], h["b"], h["c"], h["e"]))
    assert numbers(metric="created", department=desk.books.pk) == sorted(
        t.number for t in (h["a"], h["b"], h["c"])
    )
    assert numbers(metric="backlog", department=desk.books.pk) == [h["b"].number]
    assert numbers(metric="one_touch") == [h["a"].number]
    assert numbers(metric="first_reply") == sorted([h["a"].number, h["b"].number])
    assert numbers(metric="created", agent="0") == sorted(t.number for t in (h["a"], h["b"], h["c"], h["e"]))
    page = client.get("/reports/tickets/", {**base, "metric": "solved"})
    assert page.status_code == 200
    assert f">{h['a'].number}<" in page.content.decode()
    assert client.get("/reports/tickets/", {**base, "metric": "nonsense"}).status_code == 404


def test_a_custom_period_is_checked(desk: Any) -> None:
    client = Client()
    client.force_login(desk.admin)
    response = client.get("/reports/", {"period": "custom", "start": "2026-05-10", "end": "2026-05-01"})
    assert response.status_code == 422
    assert "The end is before the start." in response.content.decode()


def test_a_drill_down_opens_in_the_desk_as_a_view(desk: Any, history: dict[str, Any]) -> None:
    from sportello.queues.models import SavedView

    supervisor = agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    client = Client()
    client.force_login(supervisor)
    day = rollups.day_of(NOW).isoformat()
    query = {"period": "custom", "start": day, "end": day, "metric": "created"}
    page = client.get("/reports/tickets/", query).content.decode()
    assert "Open in the Desk as a view" in page
    response = client.post("/reports/tickets/view/", query)
    assert response.status_code == 302
    view = SavedView.objects.get(owner=supervisor)
    assert response["Location"] == f"/?view={view.pk}"
    assert view.name.startswith("Created · ")
    h = history
    # Books' tickets created that day that the supervisor may read: c opened in Books (the
    # figure counts it) but is Electronics' now.
    assert view.condition == drill.view_condition(sorted([h["a"].number, h["b"].number]))
    assert client.get(response["Location"]).status_code == 200
    assert client.post("/reports/tickets/view/", {**query, "metric": "nope"}).status_code == 404
