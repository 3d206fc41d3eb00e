"""The process log's exports, CSV and XES (IEEE 1849-2016), on the page and in the API:
streamed, scope-checked, one row or event per step each ticket took."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from sportello.accounts.services import agent_update
from sportello.core.actors import Via
from sportello.tickets import services
from sportello.tickets.models import Ticket
from testing import NOW, hand_clock

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
XES = "{http://www.xes-standard.org/}"


def open_ticket(desk: Any, at: datetime, subject: str) -> Ticket:
    data = {
        "subject": subject,
        "description": "x",
        "department_id": desk.books.pk,
        "requester_id": desk.alice.pk,
    }
    return services.ticket_open(principal=desk.agent, via=Via.API, data=data, now=at).ticket


def update(desk: Any, ticket: Ticket, at: datetime, **data: Any) -> None:
    ticket.refresh_from_db()
    data["version"] = ticket.version
    services.ticket_update(principal=desk.agent, ticket_id=ticket.pk, via=Via.API, data=data, now=at)


@pytest.fixture
def setup(desk: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Books: a solved ticket (new → open → solved) and a new one;
    Electronics: one new ticket. The clock a day later; Bruno a supervisor."""
    a = open_ticket(desk, NOW, "Missing pages")
    update(desk, a, NOW + H, status="open")
    update(desk, a, NOW + 3 * H, status="solved")
    b = open_ticket(desk, NOW + 2 * H, "Torn cover")
    services.ticket_open(
        principal=desk.outsider,
        via=Via.API,
        data={
            "subject": "Broken",
            "description": "x",
            "department_id": desk.electronics.pk,
            "requester_id": desk.bob.pk,
        },
        now=NOW,
    )
    hand_clock(monkeypatch, NOW + 24 * H)
    supervisor = agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    return {"a": a, "b": b, "supervisor": supervisor}


def body(response: Any) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def test_csv_has_one_row_per_step(desk: Any, setup: dict[str, Any]) -> None:
    client = Client()
    client.force_login(setup["supervisor"])
    response = client.get("/reports/process/export.csv", {"source": f"department:{desk.books.pk}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="process-department-{desk.books.pk}.csv"'
    rows = list(csv.reader(io.StringIO(body(response).lstrip("\ufeff"))))
    a, b = setup["a"].number, setup["b"].number
    assert rows == [
        ["case_id", "activity", "timestamp", "resource", "department"],
        [str(a), "New", "2026-11-02T09:30:00.000+00:00", "bruno@desk.test", "Books"],
        [str(a), "Open", "2026-11-02T10:30:00.000+00:00", "bruno@desk.test", "Books"],
        [str(a), "Solved", "2026-11-02T12:30:00.000+00:00", "bruno@desk.test", "Books"],
        [str(b), "New", "2026-11-02T11:30:00.000+00:00", "bruno@desk.test", "Books"],
    ]


def test_xes_is_well_formed_with_a_trace_per_ticket(desk: Any, setup: dict[str, Any]) -> None:
    client = Client()
    client.force_login(setup["supervisor"])
    response = client.get("/reports/process/export.xes", {"source": f"department:{desk.books.pk}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    root = ET.fromstring(body(response).encode("utf-8"))  # noqa: S314 - our own output
    assert root.tag == f"{XES}log"
    assert root.get("xes.version") == "1849-2016"
    assert {e.get("prefix") for e in root.findall(f"{XES}extension")} == {
        "concept",
        "time",
        "org",
        "lifecycle",
    }

    def attrs(element: Any) -> dict[str, str]:
        return {child.get("key"): child.get("value") for child in element if child.get("key")}

    traces = root.findall(f"{XES}trace")
    assert [attrs(t)["concept:name"] for t in traces] == [str(setup["a"].number), str(setup["b"].number)]
    events = [attrs(e) for e in traces[0].findall(f"{XES}event")]
    assert [e["concept:name"] for e in events] == ["New", "Open", "Solved"]
    assert events[1] == {
        "concept:name": "Open",
        "time:timestamp": "2026-11-02T10:30:00.000+00:00",
        "org:resource": "bruno@desk.test",
        "org:group": "Books",
        "lifecycle:transition": "complete",
    }
    assert traces[0].find(f"{XES}event/{XES}date") is not None  # timestamps are typed dates


def test_exports_are_scope_checked(desk: Any, setup: dict[str, Any]) -> None:
    client = Client()
    client.force_login(setup["supervisor"])
    other = {"source": f"department:{desk.electronics.pk}"}
    assert client.get("/reports/process/export.csv", other).status_code == 404
    assert client.get("/reports/process/export.xes", other).status_code == 404
    agent = Client()
    agent.force_login(desk.outsider)
    assert (
        agent.get("/reports/process/export.csv", {"source": f"department:{desk.electronics.pk}"}).status_code
        == 403
    )
    admin = Client()
    admin.force_login(desk.admin)
    rows = body(admin.get("/reports/process/export.csv", other)).strip().splitlines()
    assert len(rows) == 2
    assert rows[1].endswith(",Electronics")


def test_api_exports(desk: Any, setup: dict[str, Any], api: Any) -> None:
    params = {"source": f"department:{desk.books.pk}"}
    response = api(setup["supervisor"]).get("/reports/process/export.csv", params)
    assert response.status_code == 200
    lines = body(response).splitlines()
    assert len(lines) == 5
    assert lines[4].startswith(f"{setup['b'].number},New,")
    xes = api(desk.admin).get("/reports/process/export.xes", params)
    assert xes.status_code == 200
    assert len(ET.fromstring(body(xes).encode("utf-8")).findall(f"{XES}trace")) == 2  # noqa: S314
    outside = {"source": f"department:{desk.electronics.pk}"}
    assert api(setup["supervisor"]).get("/reports/process/export.xes", outside).status_code == 404
    assert api(desk.outsider).get("/reports/process/export.csv", params).status_code == 403
