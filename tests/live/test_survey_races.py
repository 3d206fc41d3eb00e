"""The survey's one-click links at a live server, on SQLite and on PostgreSQL: one link clicked
many times at once records one answer and one event; different ratings clicked at once each
record an event, and the survey ends holding the last one written."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

OFFER = (
    "import json; from datetime import timedelta; from django.utils import timezone; "
    "from sportello.surveys.services import survey_fire_due; "
    "from sportello.surveys.links import survey_token; "
    "from sportello.surveys.models import Survey; "
    "survey_fire_due(now=timezone.now() + timedelta(seconds=1)); "
    "print(json.dumps(survey_token(Survey.objects.get(ticket_id={ticket}))))"
)
STORED = (
    "import json; from sportello.surveys.models import Survey; "
    "from sportello.tickets.models import TicketEvent; "
    "s = Survey.objects.get(ticket_id={ticket}); "
    "e = list(TicketEvent.objects.filter(ticket_id={ticket}, kind='rating').order_by('at', 'id')"
    ".values_list('field', 'new_value')); "
    "print(json.dumps([s.rating, s.satisfaction, s.answers, e]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def click(live: LiveDesk, path: str) -> Reply:
    r = httpx.get(f"{live.base_url}{path}", timeout=60)
    return Reply(r.status_code, r.text)


def offered_survey(live: LiveDesk) -> tuple[int, str]:
    department = live.departments["support"]
    r = live.put(
        f"/departments/{department}/survey-policy", {"enabled": True, "delay_minutes": 0}, as_="admin"
    )
    assert r.status == 200, r
    ticket = live.open_ticket(subject="Survey race")
    r = live.patch(f"/tickets/{ticket['id']}", {"status": "solved", "version": ticket["version"]})
    assert r.status == 200, r
    return ticket["id"], shell(live, OFFER.format(ticket=ticket["id"]))


def test_one_link_clicked_at_once_records_one_answer(live: LiveDesk) -> None:
    ticket, token = offered_survey(live)
    n = 8
    replies = live.race(n, lambda i: click(live, f"/portal/survey/{token}/rate/1/"))
    assert [r.status for r in replies] == [200] * n
    assert all("Thank you for your rating!" in r.body for r in replies)
    rating, satisfaction, answers, events = shell(live, STORED.format(ticket=ticket))
    assert (rating, satisfaction, answers) == (1, "bad", 1)
    assert [field for field, _ in events] == ["answered"]


def test_different_ratings_at_once_keep_the_last_and_record_each(live: LiveDesk) -> None:
    ticket, token = offered_survey(live)
    n = 8
    replies = live.race(n, lambda i: click(live, f"/portal/survey/{token}/rate/{1 + i % 2}/"))
    assert [r.status for r in replies] == [200] * n
    rating, satisfaction, answers, events = shell(live, STORED.format(ticket=ticket))
    # every event is a real change (an answer, then alternations), the row holds the last one
    assert 2 <= len(events) <= n
    assert answers == len(events)
    assert events[0][0] == "answered"
    assert all(f == "changed" for f, _ in events[1:])
    assert all(a["rating"] != b["rating"] for (_, a), (_, b) in itertools.pairwise(events))
    assert (rating, satisfaction) == (events[-1][1]["rating"], events[-1][1]["satisfaction"])
    # switch the policy off again for the other live tests
    r = live.put(f"/departments/{live.departments['support']}/survey-policy", {"enabled": False}, as_="admin")
    assert r.status == 200
