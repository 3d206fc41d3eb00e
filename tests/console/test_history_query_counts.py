"""Pinned statement counts of the history pages and the audit log: they do not grow with the
number of versions, of kinds, of things or of authors. A change here is a deliberate, reviewed
change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from console.test_console_query_counts import count
from core.test_versioning import KINDS, save
from testing import NOW, hand_clock

# session, user, the thing's head, its versions with their authors
HISTORY = 4
# session, user, the thing's head, the two versions with their authors
DIFF = 4
# session, user, every kind's changes in one query, the agents of the filter
AUDIT = 4


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_things_history_and_a_diff_cost_a_fixed_number_of_statements(
    desk: Any, api: Any, browser: Any, monkeypatch: Any, kind: Any
) -> None:
    clock = hand_clock(monkeypatch, NOW)
    admin = api(desk.admin)
    save(admin, kind, desk, 1, create=True)
    save(admin, kind, desk, 2)
    client = browser(desk.admin)
    key = "/".join(kind.path.split("/")[2:])
    here = f"/console/history/{kind.name}/{key}/"
    few = count(lambda: client.get(here)), count(lambda: client.get(f"{here}diff/?a=1&b=2"))
    for n in range(3, 9):
        clock.at = NOW + timedelta(minutes=n)
        save(admin, kind, desk, n)
    many = count(lambda: client.get(here)), count(lambda: client.get(f"{here}diff/?a=1&b=8"))
    assert few == many == (HISTORY, DIFF)


def test_the_audit_log_costs_a_fixed_number_of_statements(
    desk: Any, api: Any, browser: Any, monkeypatch: Any
) -> None:
    clock = hand_clock(monkeypatch, NOW)
    admin = api(desk.admin)
    client = browser(desk.admin)
    empty = count(lambda: client.get("/console/audit/"))
    save(admin, KINDS[0], desk, 1, create=True)
    one = count(lambda: client.get("/console/audit/"))
    for i, kind in enumerate(KINDS[1:]):
        clock.at = NOW + timedelta(minutes=i)
        save(admin, kind, desk, 1, create=True)
        save(admin, kind, desk, 2)
    every = count(lambda: client.get("/console/audit/"))
    assert empty == one == every == AUDIT
    assert count(lambda: client.get(f"/console/audit/?kind=macros&agent={desk.admin.pk}")) == AUDIT


def test_a_later_audit_page_costs_what_the_first_does(
    desk: Any, api: Any, browser: Any, monkeypatch: Any
) -> None:
    from sportello.console import history

    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    clock = hand_clock(monkeypatch, NOW)
    admin = api(desk.admin)
    for i, kind in enumerate(KINDS[:4]):
        clock.at = NOW + timedelta(minutes=i)
        save(admin, kind, desk, 1, create=True)
    client = browser(desk.admin)
    next_url = client.get("/console/audit/").context["next_url"]
    assert next_url
    assert count(lambda: client.get(next_url)) == AUDIT
