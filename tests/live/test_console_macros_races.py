"""The Console's macro and canned response editors at a live server, on SQLite and on
PostgreSQL: an admin's browser session fires many requests at once — saves of one macro from
editors opened at the same version, creations of one key, deactivations and activations, saves
and deletes of one canned response from editors opened on the same text, creations of one
title — and each ends with exactly one winner, the others told so (409), never a 500."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE

MACRO = (
    "import json; from sportello.automation.models import Macro, MacroVersion as V; "
    "m = Macro.objects.filter(key='{key}').first(); "
    "print(json.dumps(None if m is None else [m.name, m.version, m.active, "
    "V.objects.filter(macro=m).count()]))"
)
CANNED = (
    "import json; from sportello.notifications.models import CannedResponse as C; "
    "print(json.dumps([[c.pk, c.title, c.body] for c in C.objects.filter(title__iexact='{title}')]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def macro_form(key: str, name: str, version: int, tag: str) -> dict[str, str]:
    return {
        "key": key,
        "name": name,
        "available_to": "everyone",
        "actions": f"- add_tags: [{tag}]\n",
        "version": str(version),
        "do": "save",
    }


def test_one_macro_saved_by_many_editors_at_once_keeps_exactly_one(live: LiveDesk) -> None:
    key = f"race-{uuid.uuid4().hex[:6]}"
    client = signed_in(live)
    # many creations of one key: one macro, the others told the key is taken
    n = 8
    made: list[Reply] = live.race(
        n, lambda i: post(client, "/console/macros/new/", macro_form(key, f"Made {i}", 0, key))
    )
    statuses = sorted(r.status for r in made)
    assert statuses == [302] + [409] * (n - 1), statuses
    name, version, active, versions = shell(live, MACRO.format(key=key))
    assert (version, active, versions) == (1, True, 1)
    assert name.startswith("Made ")
    # many saves from editors opened at version 1: one is version 2, the others stale
    replies: list[Reply] = live.race(
        n,
        lambda i: post(client, f"/console/macros/{key}/edit/", macro_form(key, f"Saved {i}", 1, f"t{i}")),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    assert all("after you opened version 1" in r.body for r in replies if r.status == 409)
    assert shell(live, MACRO.format(key=key)) == [f"Saved {winner}", 2, True, 2]
    # deactivated by many at once: once, no version; activated by many: one new version
    off: list[Reply] = live.race(n, lambda i: post(client, f"/console/macros/{key}/toggle/", {"active": "0"}))
    assert [r.status for r in off] == [302] * n
    assert shell(live, MACRO.format(key=key)) == [f"Saved {winner}", 2, False, 2]
    on: list[Reply] = live.race(n, lambda i: post(client, f"/console/macros/{key}/toggle/", {"active": "1"}))
    assert [r.status for r in on] == [302] * n
    assert shell(live, MACRO.format(key=key)) == [f"Saved {winner}", 3, True, 3]


def expected_of(client: Any, path: str) -> str:
    html = client.get(path).text
    found = re.search(r'name="expected" value="([0-9a-f]{16})"', html)
    assert found, html[:500]
    return found.group(1)


def canned_form(title: str, body: str, expected: str = "") -> dict[str, str]:
    return {
        "title": title,
        "body": body,
        "language": "",
        "shared_with": "",
        "expected": expected,
        "do": "save",
    }


def test_one_canned_response_saved_and_deleted_by_many_at_once(live: LiveDesk) -> None:
    title = f"Race {uuid.uuid4().hex[:6]}"
    client = signed_in(live)
    n = 8
    # many creations of one title for one owner: one response, the others told the title is taken
    made: list[Reply] = live.race(
        n, lambda i: post(client, "/console/canned-responses/new/", canned_form(title, f"Made {i}"))
    )
    statuses = sorted(r.status for r in made)
    assert statuses == [302] + [409] * (n - 1), statuses
    ((pk, stored_title, body),) = shell(live, CANNED.format(title=title))
    assert stored_title == title
    assert body.startswith("Made ")
    # many saves from editors opened on the same text: one wins, the others stale with their text
    loaded = expected_of(client, f"/console/canned-responses/{pk}/edit/")
    replies: list[Reply] = live.race(
        n,
        lambda i: post(
            client, f"/console/canned-responses/{pk}/edit/", canned_form(title, f"Saved {i}", loaded)
        ),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for i, r in enumerate(replies):
        if r.status == 409:
            assert f">Saved {i}</textarea>" in r.body
    assert shell(live, CANNED.format(title=title)) == [[pk, title, f"Saved {winner}"]]
    # a delete from a page opened before the last save is refused; then many deletes at once
    stale: Reply = post(client, f"/console/canned-responses/{pk}/delete/", {"expected": loaded})
    assert stale.status == 409
    assert shell(live, CANNED.format(title=title)) == [[pk, title, f"Saved {winner}"]]
    current = expected_of(client, f"/console/canned-responses/{pk}/delete/")
    gone: list[Reply] = live.race(
        n, lambda i: post(client, f"/console/canned-responses/{pk}/delete/", {"expected": current})
    )
    assert {r.status for r in gone} <= {302, 404}, [r.status for r in gone]
    assert any(r.status == 302 for r in gone)
    assert shell(live, CANNED.format(title=title)) == []
