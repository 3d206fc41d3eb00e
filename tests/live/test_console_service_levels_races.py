"""The Console's service levels at a live server, on SQLite and on PostgreSQL: many saves of one
calendar or SLA policy from forms loaded at the same version, sent at once — exactly one is
written, the others are told someone saved meanwhile (409) and write nothing; a holiday import
sent many times at once adds each holiday once; many creations of one key make one."""

from __future__ import annotations

import json
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

N = 10
READ = (
    "import json; from sportello.sla.models import {model} as M, {version} as V; "
    "h = M.objects.get(key={key!r}); "
    "print(json.dumps([h.version, h.name, V.objects.filter({parent}=h).count(), "
    "V.objects.get({parent}=h, version=h.version).definition]))"
)


def head(live: LiveDesk, kind: str, key: str) -> list[Any]:
    model, version, parent = {
        "calendar": ("BusinessCalendar", "BusinessCalendarVersion", "calendar"),
        "policy": ("SlaPolicy", "SlaPolicyVersion", "policy"),
    }[kind]
    out = live.server.manage("shell", "-c", READ.format(model=model, version=version, parent=parent, key=key))
    row: list[Any] = json.loads(out.strip().splitlines()[-1])
    return row


def calendar_form(name: str, version: int) -> dict[str, str]:
    return {"name": name, "time_zone": "Europe/Rome", "version": str(version), "slots": "2",
            "w-mon-0-start": "09:00", "w-mon-0-end": "13:00", "h-count": "0"}  # fmt: skip


def test_a_calendar_saved_from_many_stale_forms_at_once_is_written_once(live: LiveDesk) -> None:
    made = live.post("/calendars", {"key": "race-rome", "name": "Rome", "time_zone": "Europe/Rome",
                                    "weekly": {"mon": [["09:00", "18:00"]]}}, as_="admin")  # fmt: skip
    assert made.status == 201, made
    client = signed_in(live)
    # when ten admins' forms, all loaded at version 1, are saved at once
    replies: list[Reply] = live.race(
        N, lambda i: post(client, "/console/calendars/race-rome/", calendar_form(f"Rome {i}", 1))
    )
    # then one is written; the others are told someone saved meanwhile, their text kept
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    version, name, versions, definition = head(live, "calendar", "race-rome")
    assert (version, name, versions) == (2, f"Rome {winner}", 2)
    assert definition["weekly"] == {"mon": [["09:00", "13:00"]]}
    for i, r in enumerate(replies):
        if r.status == 409:
            assert "Someone saved this calendar after you opened it." in r.body
            assert f'value="Rome {i}"' in r.body
    # a holiday import sent at once from one preview adds each holiday once
    chosen = {"country": "IT", "years": "2026", "version": "2", "date": ["2026-12-08", "2026-12-25"]}
    replies = live.race(N, lambda i: import_holidays(client, chosen))
    assert [r.status for r in replies] == [302] * N
    added = [r for r in replies if r.body == "/console/calendars/race-rome/"]
    assert len(added) == 1, [r.body for r in replies]
    version, _name, versions, definition = head(live, "calendar", "race-rome")
    assert (version, versions) == (3, 3)
    assert [h["date"] for h in definition["holidays"]] == ["2026-12-08", "2026-12-25"]


def import_holidays(client: Any, data: dict[str, Any]) -> Reply:
    """The import's answer: its status and where it sends the browser."""
    r = client.post(
        "/console/calendars/race-rome/holidays/",
        data=data,
        headers={"X-CSRFToken": client.cookies["csrftoken"]},
    )
    return Reply(r.status_code, r.headers.get("location", ""))


def policy_form(name: str, version: int | None, key: str | None = None) -> dict[str, str]:
    return {"name": name, "position": "5", "when_mode": "all", "t-first_response-normal": "2h",
            **({"version": str(version)} if version else {}), **({"key": key} if key else {})}  # fmt: skip


def test_a_policy_saved_from_many_stale_forms_at_once_is_written_once(live: LiveDesk) -> None:
    client = signed_in(live)
    # many creations of one key make one policy
    replies = live.race(
        N, lambda i: post(client, "/console/sla-policies/new/", policy_form(f"Race {i}", None, "race"))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    version, name, versions, _definition = head(live, "policy", "race")
    first = next(i for i, r in enumerate(replies) if r.status == 302)
    assert (version, name, versions) == (1, f"Race {first}", 1)
    # then many saves from forms loaded at version 1: one written
    replies = live.race(
        N, lambda i: post(client, "/console/sla-policies/race/", policy_form(f"Saved {i}", 1))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    version, name, versions, _definition = head(live, "policy", "race")
    assert (version, name, versions) == (2, f"Saved {winner}", 2)
    assert all("Someone saved this policy after you opened it." in r.body for r in replies if r.status == 409)
    # (the live server is shared: a policy for every ticket would time the other tests' tickets)
    assert live.request("DELETE", "/sla-policies/race", as_="admin").status == 200


def test_a_tier_path_saved_from_many_stale_forms_at_once_is_written_once(live: LiveDesk) -> None:
    books = live.departments["support"]
    teams = []
    for name in ("Race L1", "Race L2"):
        made = live.post("/teams", {"name": name, "department_id": books}, as_="admin")
        assert made.status == 201, made
        teams.append(made.body["id"])
    made = live.put("/tier-paths/race-books", {"name": "Books", "department": books,
                    "tiers": [{"key": "t1", "name": "Tier 1", "team": teams[0]},
                              {"key": "t2", "name": "Tier 2", "team": teams[1]}]}, as_="admin")  # fmt: skip
    assert made.status == 200, made
    client = signed_in(live)
    form = {"department": str(books), "tier-count": "2", "version": "1",
            "tier-0-key": "t1", "tier-0-name": "First", "tier-0-team": str(teams[0]),
            "tier-1-key": "t2", "tier-1-name": "Second", "tier-1-team": str(teams[1])}  # fmt: skip
    replies = live.race(
        N, lambda i: post(client, "/console/tier-paths/race-books/", {**form, "name": f"Books {i}"})
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    out = live.server.manage(
        "shell", "-c",
        "import json; from sportello.sla.models import TierPath as T, TierPathVersion as V; "
        "p = T.objects.get(key='race-books'); "
        "print(json.dumps([p.version, p.name, V.objects.filter(path=p).count()]))",
    )  # fmt: skip
    assert json.loads(out.strip().splitlines()[-1]) == [2, f"Books {winner}", 2]
