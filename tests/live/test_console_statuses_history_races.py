"""Statuses and the snapshot history at a live server, on SQLite and on PostgreSQL, each write
fired by many requests of an admin's browser session at once: edits of one status drawn from
the same page save once (the others told someone changed it meanwhile) and its history gains
exactly one version; moves of one status apply one after the other (a status moved up by many
at once ends first of its category, every position distinct); concurrent saves of one
department each record a version, numbered without gaps or duplicates, the last one what is
stored."""

from __future__ import annotations

import re
import uuid
from typing import Any

from live import LIVE
from live.server import LiveDesk

from .test_console_desk_races import post, shell
from .test_me_races import signed_in

pytestmark = LIVE

N = 10


def status_row(live: LiveDesk, key: str) -> list[Any]:
    code = (
        "import json; from sportello.tickets.models import Status as S; "
        f"s = S.objects.get(key={key!r}); print(json.dumps([s.pk, s.name, s.category, s.position]))"
    )
    row: list[Any] = shell(live, code)
    return row


def versions(live: LiveDesk, kind: str, key: str) -> list[list[Any]]:
    code = (
        "import json; from sportello.core.models import ConfigSnapshot as C; "
        f"print(json.dumps([[c.version, c.definition] for c in C.objects.filter(kind={kind!r}, key={key!r})"
        ".order_by('version')]))"
    )
    rows: list[list[Any]] = shell(live, code)
    return rows


def category_keys(live: LiveDesk, category: str) -> list[str]:
    code = (
        "import json; from sportello.tickets.models import Status as S; "
        f"print(json.dumps(list(S.objects.filter(category={category!r}).order_by('position', 'id')"
        ".values_list('key', flat=True))))"
    )
    rows: list[str] = shell(live, code)
    return rows


def test_edits_of_one_status_from_one_page_save_once(live: LiveDesk) -> None:
    client = signed_in(live)
    key = f"race_{uuid.uuid4().hex[:8]}"
    made = post(client, "/console/statuses/new/", {"key": key, "name": "Race", "category": "on_hold"})
    assert made.status == 302, made.body[:500]
    pk = status_row(live, key)[0]
    page = client.get(f"/console/statuses/{pk}/").text
    found = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page)
    assert found is not None
    replies = live.race(
        N,
        lambda i: post(
            client,
            f"/console/statuses/{pk}/",
            {"name": f"Race {i}", "category": "on_hold", "is_active": "on", "fingerprint": found.group(1)},
        ),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    assert status_row(live, key)[1] == f"Race {winner}"
    for r in replies:
        if r.status == 409:
            assert "Someone changed this status while you were editing it." in r.body
    history = versions(live, "statuses", key)
    assert [v for v, _ in history] == [1, 2]
    assert history[-1][1]["name"] == f"Race {winner}"


def test_a_status_moved_up_by_many_at_once_ends_first_of_its_category(live: LiveDesk) -> None:
    client = signed_in(live)
    tag = uuid.uuid4().hex[:6]
    keys = [f"m{tag}_{i}" for i in range(3)]
    for key in keys:
        assert (
            post(client, "/console/statuses/new/", {"key": key, "name": key, "category": "pending"}).status
            == 302
        )
    before = category_keys(live, "pending")
    others = {c: category_keys(live, c) for c in ("new", "open", "on_hold", "solved", "closed")}
    last = status_row(live, keys[-1])[0]
    replies = live.race(N, lambda i: post(client, f"/console/statuses/{last}/move/", {"direction": "up"}))
    assert [r.status for r in replies] == [302] * N
    after = category_keys(live, "pending")
    assert after == [keys[-1]] + [k for k in before if k != keys[-1]]
    assert {c: category_keys(live, c) for c in others} == others
    code = (
        "import json; from sportello.tickets.models import Status as S; "
        "p = list(S.objects.values_list('position', flat=True)); print(json.dumps([len(p), len(set(p))]))"
    )
    total, distinct = shell(live, code)
    assert total == distinct


def test_concurrent_saves_of_one_department_record_consecutive_versions(live: LiveDesk) -> None:
    client = signed_in(live)
    name = f"History {uuid.uuid4().hex[:8]}"
    assert post(client, "/console/departments/", {"name": name}).status == 302
    code = (
        "import json; from sportello.accounts.models import Department as D; "
        f"d = D.objects.get(name={name!r}); print(json.dumps([d.pk, d.slug]))"
    )
    pk, slug = shell(live, code)
    replies = live.race(
        N,
        lambda i: post(client, f"/console/departments/{pk}/", {"name": name, "description": f"Save {i}",
                                                               "is_active": "on"}),
    )  # fmt: skip
    assert [r.status for r in replies] == [302] * N
    history = versions(live, "departments", slug)
    assert [v for v, _ in history] == list(range(1, N + 2))  # created, then each save: no gap, no twin
    descriptions = [d["description"] for _, d in history[1:]]
    assert sorted(descriptions) == sorted(f"Save {i}" for i in range(N))
    code = (
        "import json; from sportello.accounts.models import Department as D; "
        f"print(json.dumps(D.objects.get(pk={pk}).description))"
    )
    assert shell(live, code) == history[-1][1]["description"]
