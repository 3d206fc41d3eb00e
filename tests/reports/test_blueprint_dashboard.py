"""The Blueprint dashboard under /reports/blueprints/: the figures of a process built through the
real services (tickets opened, transitions performed), on the page and in its CSV files; who may
read it; the period in the viewer's time zone."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from sportello.accounts.services import agent_profile_update, agent_update
from sportello.reports.periods import PeriodChoice, report_period
from testing import hand_clock
from workflow_setup import returns_definition, returns_fields

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
LABEL = {"custom_fields": {"order_id": "AB123456"}, "note": "Label sent"}
REFUND = {"custom_fields": {"refund_amount": "10"}}


@pytest.fixture
def returns(desk: Any, now: datetime) -> Any:
    """The Returns process of Books, where a ticket should be received within two hours."""
    from sportello.blueprints.services import blueprint_save

    returns_fields(desk)
    definition = returns_definition(desk)
    definition["states"][0]["time_limit"] = "2h"
    row, _ = blueprint_save(definition=definition, actor=desk.admin, now=now)
    return row


@pytest.fixture
def open_return(desk: Any) -> Callable[..., Any]:
    from sportello.core.actors import Via
    from sportello.tickets import services

    def make(subject: str, *, at: datetime) -> Any:
        data = {
            "subject": subject,
            "description": "I want to send it back.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "custom_fields": {"kind": "return"},
        }
        return services.ticket_open(principal=desk.agent, via=Via.API, data=data, now=at).ticket

    return make


@pytest.fixture
def transition(desk: Any) -> Callable[..., Any]:
    from sportello.blueprints.services import TransitionRequest, blueprint_transition

    def perform(ticket: Any, key: str, *, at: datetime, by: Any = None, **inputs: Any) -> Any:
        return blueprint_transition(
            actor=by or desk.agent,
            ticket_id=ticket.pk,
            transition_key=key,
            inputs=TransitionRequest(**inputs),
            now=at,
        )

    return perform


@pytest.fixture
def history(
    desk: Any, returns: Any, open_return: Any, transition: Any, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """On Monday 2 November (UTC): A received 1h, awaiting 2h, refunded 3h after it came in; B
    received 3h (over the 2h limit), awaiting 1h; C received two hours in and still there. Read
    ten hours in (19:30 UTC), by Bruno, now a supervisor of Books."""
    a = open_return("Wrong size", at=now)
    transition(a, "label-sent", at=now + H, **LABEL)
    transition(a, "refund", by=desk.admin, at=now + 3 * H, **REFUND)
    b = open_return("Scratched cover", at=now + H)
    transition(b, "label-sent", at=now + 4 * H, **LABEL)
    transition(b, "refund", by=desk.admin, at=now + 5 * H, **REFUND)
    c = open_return("Missing pages", at=now + 2 * H)
    hand_clock(monkeypatch, now + 10 * H)
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    return {"a": a, "b": b, "c": c}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(html: str) -> str:
    """The page's text, tags removed and spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def table_of(html: str, title_id: str) -> str:
    """The table of the region labelled by `title_id`, as HTML."""
    found = re.search(rf'aria-labelledby="{title_id}">(.*?</table>)', html, re.S)
    assert found is not None, title_id
    return found.group(1)


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# -- the pages -------------------------------------------------------------------------------------


def test_the_list_shows_each_blueprint_with_its_headline_figures(desk: Any, history: dict[str, Any]) -> None:
    page = signed_in(desk.agent).get("/reports/blueprints/", {"period": "week"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/reports/blueprints/" aria-current="page"' in html
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a href=\"/reports/blueprints/returns/\?period=week\">Returns</a>.*?</tr>",
        html,
        re.S,
    )
    assert row is not None, html
    # tickets now, over the limit, completed, average time to complete, transitions, violations
    assert text_of(row.group(0)) == "Returns Books 1 1 2 3 hours, 30 minutes 4 2"


def test_the_blueprint_page_shows_the_six_figures_the_flowchart_the_chart_and_the_tables(
    desk: Any, history: dict[str, Any]
) -> None:
    page = signed_in(desk.agent).get("/reports/blueprints/returns/", {"period": "week"})
    assert page.status_code == 200
    html = page.content.decode()
    tiles = re.search(r'<ul class="report-tiles".*?</ul>', html, re.S)
    assert tiles is not None
    assert text_of(tiles.group(0)) == (
        "1 ticket in the process now "
        "1 over its state's time limit now "
        "2 runs completed in the period "
        "3 hours, 30 minutes average time to complete · 3 hours, 30 minutes in business hours "
        "4 transitions performed in the period "
        "2 limit violations, on 2 tickets"
    )
    # the flowchart, its states badged with the tickets in them now and those over the limit
    flow = re.search(r'<div class="report-chart report-flowchart".*?</svg>', html, re.S)
    assert flow is not None
    assert "<?xml" not in flow.group(0)
    badges = re.findall(
        r'<g class="badge( alert)?"><title>([^<]*)</title>.*?>([^<]*)</text></g>', flow.group(0)
    )
    assert badges == [
        ("", "1 ticket in “Received” now", "1 now"),
        (" alert", "1 of them over the state&#x27;s time limit", "1 over"),
        ("", "0 tickets in “Awaiting the item” now", "0 now"),
    ]
    # the average time per state as bars, in hours, with the numbers in the table
    chart = re.search(r'<svg [^>]*class="bar-chart".*?</svg>', html, re.S)
    assert chart is not None
    assert re.findall(r'font-size="11">([^<]*)</text>', chart.group(0)) == [
        "2.0 h",
        "2.0 h",
        "1.5 h",
        "1.5 h",
    ]
    states = table_of(html, "states-title")
    assert text_of(states).split(" Average business time ")[1] == (
        "Received 1 1 2h 2 hours 2 hours Awaiting the item 0 0 — 1 hour, 30 minutes 1 hour, 30 minutes"
    )
    # the transitions by name, with the states they join
    transitions = table_of(html, "transitions-title")
    assert text_of(transitions) == (
        "Transition From state To state Times Send the return label Received Awaiting the item 2 "
        "Refund Awaiting the item Refunded 2"
    )
    # the ticket over its limit, linking to its page in the Desk
    overdue = table_of(html, "overdue-title")
    c = history["c"]
    assert f'<a href="/tickets/{c.pk}/">#{c.number}</a>' in overdue
    assert text_of(overdue).endswith(f"#{c.number} Missing pages Received Mon 2 Nov 11:30 6 hours")
    assert "2 visits of a state went over their time limit (2 tickets)." in text_of(html)
    assert "No ticket went through this process in this period" not in html


def test_overdue_tickets_come_most_overdue_first(
    desk: Any, history: dict[str, Any], open_return: Any, now: datetime
) -> None:
    later = open_return("Torn page", at=now + 7 * H)  # over by 1h at 19:30
    page = signed_in(desk.agent).get("/reports/blueprints/returns/").content.decode()
    overdue = table_of(page, "overdue-title")
    numbers = re.findall(r"#(\d+)</a>", overdue)
    assert numbers == [str(history["c"].number), str(later.number)]


def test_a_period_before_the_runs_says_what_to_do(desk: Any, history: dict[str, Any]) -> None:
    html = (
        signed_in(desk.agent)
        .get("/reports/blueprints/returns/", {"period": "custom", "from": "2026-10-01", "to": "2026-10-31"})
        .content.decode()
    )
    assert "No ticket went through this process in this period." in html
    assert "No transition was performed in this period." in html
    assert "No run reached an end state in this period." in html
    assert "No ticket is over its state's time limit at the end of the period." in html
    assert 'value="2026-10-01"' in html
    assert 'value="2026-10-31"' in html


def test_no_blueprint_yet_says_where_to_create_one(desk: Any) -> None:
    html = signed_in(desk.admin).get("/reports/blueprints/").content.decode()
    assert "No blueprint yet." in html
    assert 'href="/console/blueprints/"' in html
    agent_update(agent=desk.outsider, actor=desk.admin, supervisor=True)
    html = signed_in(desk.outsider).get("/reports/blueprints/").content.decode()
    assert "Ask an admin to create one in the Console" in html


def test_a_wrong_custom_period_is_named_next_to_its_field(desk: Any, history: dict[str, Any]) -> None:
    html = (
        signed_in(desk.agent)
        .get("/reports/blueprints/", {"period": "custom", "from": "2026-11-05", "to": "2026-11-01"})
        .content.decode()
    )
    assert '<p class="error" id="period-from-error">The first day cannot be in the future.</p>' in html
    assert 'aria-invalid="true"' in html
    html = (
        signed_in(desk.agent)
        .get("/reports/blueprints/", {"period": "custom", "from": "2026-11-02", "to": "2026-11-01"})
        .content.decode()
    )
    assert '<p class="error" id="period-to-error">The last day cannot be before the first.</p>' in html


def test_the_pages_speak_the_viewers_language(desk: Any, history: dict[str, Any]) -> None:
    client = signed_in(desk.agent)
    html = client.get("/reports/blueprints/returns/", headers={"accept-language": "es"}).content.decode()
    assert "Transiciones más frecuentes" in html
    html = client.get("/reports/blueprints/returns/", headers={"accept-language": "it"}).content.decode()
    assert "Transizioni più frequenti" in html


# -- who reads it ----------------------------------------------------------------------------------


def test_only_admins_and_supervisors_read_it_and_a_supervisor_only_their_departments(
    desk: Any, history: dict[str, Any]
) -> None:
    paths = [
        "/reports/blueprints/",
        "/reports/blueprints.csv",
        "/reports/blueprints/returns/",
        "/reports/blueprints/returns/states.csv",
    ]
    for path in paths:
        assert signed_in(desk.admin).get(path).status_code == 200, path
        assert signed_in(desk.agent).get(path).status_code == 200, path  # the supervisor of Books
        assert signed_in(desk.outsider).get(path).status_code == 403, path  # an agent, no supervisor
        assert signed_in(desk.light).get(path).status_code == 403, path
        assert Client().get(path).status_code == 302, path
    # a supervisor of Electronics sees no Books blueprint: not listed, and 404 when asked for
    agent_update(agent=desk.outsider, actor=desk.admin, supervisor=True)
    other = signed_in(desk.outsider)
    assert "Returns" not in other.get("/reports/blueprints/").content.decode()
    assert csv_rows(other.get("/reports/blueprints.csv"))[1:] == []
    assert other.get("/reports/blueprints/returns/").status_code == 404
    for table in ("states", "transitions", "overdue"):
        assert other.get(f"/reports/blueprints/returns/{table}.csv").status_code == 404
    assert signed_in(desk.admin).get("/reports/blueprints/missing/").status_code == 404
    assert signed_in(desk.admin).get("/reports/blueprints/returns/other.csv").status_code == 404


# -- CSV -------------------------------------------------------------------------------------------


def test_each_table_downloads_as_csv(desk: Any, history: dict[str, Any]) -> None:
    client = signed_in(desk.agent)
    response = client.get("/reports/blueprints/returns/states.csv", {"period": "week"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="returns_states_2026-11-02_2026-11-02.csv"'
    )
    assert csv_rows(response) == [
        [
            "State",
            "Tickets now",
            "Over the limit now",
            "Time limit",
            "Average time (seconds)",
            "Average time (hours)",
            "Average business time (seconds)",
            "Average business time (hours)",
        ],
        ["Received", "1", "1", "2h", "7200", "2.0", "7200", "2.0"],
        ["Awaiting the item", "0", "0", "", "5400", "1.5", "5400", "1.5"],
    ]
    assert csv_rows(client.get("/reports/blueprints/returns/transitions.csv")) == [
        ["Transition", "From state", "To state", "Times"],
        ["Send the return label", "Received", "Awaiting the item", "2"],
        ["Refund", "Awaiting the item", "Refunded", "2"],
    ]
    c = history["c"]
    assert csv_rows(client.get("/reports/blueprints/returns/overdue.csv")) == [
        [
            "Ticket",
            "Subject",
            "State",
            "In the state since",
            "Over the limit by (seconds)",
            "Over the limit by (hours)",
        ],
        [str(c.number), "Missing pages", "Received", "2026-11-02T11:30:00+00:00", "21600", "6.0"],
    ]
    assert csv_rows(client.get("/reports/blueprints.csv", {"period": "week"})) == [
        [
            "Blueprint",
            "Department",
            "Active tickets",
            "Over the limit now",
            "Runs completed",
            "Average time to complete (seconds)",
            "Average time to complete (hours)",
            "Average time to complete, business (seconds)",
            "Average time to complete, business (hours)",
            "Transitions performed",
            "Limit violations",
            "Tickets with violations",
        ],
        ["Returns", "Books", "1", "1", "2", "12600", "3.5", "12600", "3.5", "4", "2", "2"],
    ]


def test_the_csv_headers_are_in_the_viewers_language_and_cells_never_start_a_formula(
    desk: Any, history: dict[str, Any], open_return: Any, now: datetime
) -> None:
    open_return("=HYPERLINK(1)", at=now + 7 * H)
    client = signed_in(desk.agent)
    rows = csv_rows(client.get("/reports/blueprints/returns/overdue.csv", headers={"accept-language": "it"}))
    assert rows[0][:3] == ["Ticket", "Oggetto", "Stato"]
    assert [r[1] for r in rows[1:]] == ["Missing pages", "'=HYPERLINK(1)"]


def test_csv_times_are_in_the_viewers_time_zone(desk: Any, history: dict[str, Any]) -> None:
    agent_profile_update(agent=desk.agent, actor=desk.agent, time_zone="Europe/Rome")
    rows = csv_rows(signed_in(desk.agent).get("/reports/blueprints/returns/overdue.csv"))
    assert rows[1][3] == "2026-11-02T12:30:00+01:00"


# -- the period --------------------------------------------------------------------------------------


def test_a_custom_period_reads_whole_days_in_the_viewers_time_zone(
    desk: Any, history: dict[str, Any]
) -> None:
    # Rome is an hour ahead: Monday in Rome starts at Sunday 23:00 UTC, so the whole history is in
    # it; Tuesday alone holds none of it (and C, received Monday, is over the limit at its end)
    agent_profile_update(agent=desk.agent, actor=desk.agent, time_zone="Europe/Rome")
    client = signed_in(desk.agent)
    monday = client.get(
        "/reports/blueprints.csv", {"period": "custom", "from": "2026-11-02", "to": "2026-11-02"}
    )
    assert csv_rows(monday)[1][2:5] == ["1", "1", "2"]
    tuesday = client.get(
        "/reports/blueprints.csv", {"period": "custom", "from": "2026-11-03", "to": "2026-11-03"}
    )
    assert tuesday.status_code == 200
    # Tuesday has not begun in Rome at 19:30 UTC on Monday: the first day is in the future
    html = client.get(
        "/reports/blueprints/", {"period": "custom", "from": "2026-11-03", "to": "2026-11-03"}
    ).content.decode()
    assert "The first day cannot be in the future." in html


ROME = ZoneInfo("Europe/Rome")
WEDNESDAY = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "start", "end", "days"),
    [
        ({}, datetime(2026, 10, 5, 22, 0, tzinfo=UTC), WEDNESDAY, (date(2026, 10, 6), date(2026, 11, 4))),
        (
            {"period": "week"},
            datetime(2026, 11, 1, 23, 0, tzinfo=UTC),
            WEDNESDAY,
            (date(2026, 11, 2), date(2026, 11, 4)),
        ),
        (
            {"period": "7d"},
            datetime(2026, 10, 28, 23, 0, tzinfo=UTC),
            WEDNESDAY,
            (date(2026, 10, 29), date(2026, 11, 4)),
        ),
        (
            {"period": "90d"},
            datetime(2026, 8, 6, 22, 0, tzinfo=UTC),
            WEDNESDAY,
            (date(2026, 8, 7), date(2026, 11, 4)),
        ),
        (
            {"period": "custom", "from": "2026-10-24", "to": "2026-10-25"},
            datetime(2026, 10, 23, 22, 0, tzinfo=UTC),  # summer time until the 25th
            datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
            (date(2026, 10, 24), date(2026, 10, 25)),
        ),
        (
            {"period": "custom", "from": "2026-11-01", "to": "2026-12-31"},  # ends now
            datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
            WEDNESDAY,
            (date(2026, 11, 1), date(2026, 11, 4)),
        ),
        (
            {"period": "nonsense"},
            datetime(2026, 10, 5, 22, 0, tzinfo=UTC),
            WEDNESDAY,
            (date(2026, 10, 6), date(2026, 11, 4)),
        ),
    ],
)
def test_report_periods(
    params: dict[str, str], start: datetime, end: datetime, days: tuple[date, date]
) -> None:
    period = report_period(params, now=WEDNESDAY, zone=ROME)
    assert (period.start, period.end, (period.first_day, period.last_day)) == (start, end, days)
    assert not period.errors


def test_a_custom_period_that_reads_wrong_falls_back_with_its_errors() -> None:
    period = report_period({"period": "custom", "from": "yesterday", "to": ""}, now=WEDNESDAY, zone=ROME)
    assert period.choice == PeriodChoice.CUSTOM
    assert set(period.errors) == {"from", "to"}
    assert (period.start, period.end) == (datetime(2026, 10, 5, 22, 0, tzinfo=UTC), WEDNESDAY)
    assert period.typed_from == "yesterday"


def test_the_period_travels_in_links() -> None:
    custom = report_period(
        {"period": "custom", "from": "2026-11-01", "to": "2026-11-02"}, now=WEDNESDAY, zone=ROME
    )
    assert custom.query() == "period=custom&from=2026-11-01&to=2026-11-02"
    assert report_period({"period": "7d"}, now=WEDNESDAY, zone=ROME).query() == "period=7d"


# -- cost ------------------------------------------------------------------------------------------


def test_the_list_does_not_grow_with_the_number_of_blueprints(
    desk: Any, history: dict[str, Any], now: datetime
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sportello.blueprints.services import blueprint_save

    client = signed_in(desk.admin)

    def cost() -> int:
        client.get("/reports/blueprints/")  # warm: parsed definitions and calendars are cached
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/reports/blueprints/").status_code == 200
        return len(ctx.captured_queries)

    one = cost()
    for key in ("returns-b", "returns-c"):
        blueprint_save(
            definition={**returns_definition(desk), "key": key, "name": key}, actor=desk.admin, now=now
        )
    assert cost() == one
