"""Stale saves of a department and of a team at a live server, on SQLite and on PostgreSQL: many
saves fired at once from the same loaded form (one fingerprint) store exactly one of them; the
others are refused (409) with what they typed kept, and what is stored is the winner's."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import signed_in

pytestmark = LIVE

N = 8


def post(client: httpx.Client, path: str, data: dict[str, Any]) -> Reply:
    r = client.post(path, data=data, headers={"X-CSRFToken": client.cookies["csrftoken"]})
    return Reply(r.status_code, r.text)


def shell(live: LiveDesk, code: str) -> Any:
    out = live.server.manage("shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def seen(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="seen" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_a_department_saved_from_one_form_by_many_at_once_is_saved_once(live: LiveDesk) -> None:
    client = signed_in(live)
    suffix = uuid.uuid4().hex[:8]
    made = live.post("/departments", {"name": f"Stale race {suffix}"}, as_="admin")
    assert made.status == 201, made
    path = f"/console/departments/{made.body['id']}/"
    fingerprint = seen(client, path)

    def save(i: int) -> Reply:
        data = {"name": f"Stale race {suffix}", "description": f"version {i}", "is_active": "on"}
        return post(client, path, {**data, "seen": fingerprint})

    replies = live.race(N, save)
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for i, r in enumerate(replies):
        if r.status == 409:
            assert "Someone saved this department since you opened it." in r.body
            assert re.search(rf">\s*version {i}</textarea>", r.body)
    code = (
        "import json; from sportello.accounts.models import Department as D; "
        f"print(json.dumps([[d.name, d.description] for d in D.objects.filter(pk={made.body['id']})]))"
    )
    assert shell(live, code) == [[f"Stale race {suffix}", f"version {winner}"]]


def test_a_team_saved_from_one_form_by_many_at_once_is_saved_once(live: LiveDesk) -> None:
    client = signed_in(live)
    suffix = uuid.uuid4().hex[:8]
    department = live.post("/departments", {"name": f"Team race {suffix}"}, as_="admin")
    assert department.status == 201, department
    made = live.post(
        "/teams",
        {"name": f"Crew {suffix}", "department_id": department.body["id"], "member_ids": []},
        as_="admin",
    )
    assert made.status == 201, made
    path = f"/console/people/teams/{made.body['id']}/"
    fingerprint = seen(client, path)

    def save(i: int) -> Reply:
        return post(client, path, {"name": f"Crew {suffix} {i}", "seen": fingerprint})

    replies = live.race(N, save)
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for i, r in enumerate(replies):
        if r.status == 409:
            assert "Someone saved this team since you opened it." in r.body
            assert f'value="Crew {suffix} {i}"' in r.body
    code = (
        "import json; from sportello.accounts.models import Team as T; "
        f"print(json.dumps([t.name for t in T.objects.filter(pk={made.body['id']})]))"
    )
    assert shell(live, code) == [f"Crew {suffix} {winner}"]
