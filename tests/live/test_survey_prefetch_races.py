"""One-click rating links fetched at once by machines and by the customer, at a live server on
SQLite and on PostgreSQL: prefetches (refused with 503) and `HEAD`s (the page) record nothing,
the customer's clicks among them record one answer and one event."""

from __future__ import annotations

import httpx

from live import LIVE
from live.server import LiveDesk, Reply
from live.test_survey_races import STORED, offered_survey, shell

pytestmark = LIVE


def fetch(live: LiveDesk, path: str, kind: str) -> Reply:
    url = f"{live.base_url}{path}"
    if kind == "head":
        r = httpx.head(url, timeout=60)
    elif kind == "prefetch":
        r = httpx.get(url, headers={"Sec-Purpose": "prefetch"}, timeout=60)
    else:
        r = httpx.get(url, timeout=60)
    return Reply(r.status_code, kind)


def test_prefetches_and_heads_among_clicks_record_one_answer(live: LiveDesk) -> None:
    # Given an offered survey
    ticket, token = offered_survey(live)
    path = f"/portal/survey/{token}/rate/2/"
    kinds = ["prefetch", "head", "click"] * 4
    # When prefetches, link checks and the customer's clicks arrive at once
    replies = live.race(len(kinds), lambda i: fetch(live, path, kinds[i]))
    # Then each is answered as its kind is
    expected = {"prefetch": 503, "head": 200, "click": 200}
    assert [(r.body, r.status) for r in replies] == [(k, expected[k]) for k in kinds]
    # and only the clicks recorded: one answer, one event
    rating, satisfaction, answers, events = shell(live, STORED.format(ticket=ticket))
    assert (rating, satisfaction, answers) == (2, "good", 1)
    assert [field for field, _ in events] == ["answered"]
    r = live.put(f"/departments/{live.departments['support']}/survey-policy", {"enabled": False}, as_="admin")
    assert r.status == 200


def test_prefetches_alone_record_nothing(live: LiveDesk) -> None:
    # Given an offered survey
    ticket, token = offered_survey(live)
    # When only prefetches and link checks arrive, at once
    kinds = ["prefetch", "head"] * 4
    replies = live.race(len(kinds), lambda i: fetch(live, f"/portal/survey/{token}/rate/1/", kinds[i]))
    assert sorted(r.status for r in replies) == [200] * 4 + [503] * 4
    # Then the survey is still unanswered
    rating, _satisfaction, answers, events = shell(live, STORED.format(ticket=ticket))
    assert (rating, answers, events) == (None, 0, [])
    r = live.put(f"/departments/{live.departments['support']}/survey-policy", {"enabled": False}, as_="admin")
    assert r.status == 200
