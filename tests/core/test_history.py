"""`core.history`: a thing's versions with their authors, two compared, every change across
kinds in one query a page at a time, and a restore that refuses to overwrite a save made since
the confirmation was shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sportello.automation.services import RuleKind, rule_save
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.history import config_changes, config_compare, config_history, version_restore


def rule(name: str) -> dict[str, Any]:
    return {"key": "r", "name": name, "when": {"field": "ticket.subject", "op": "contains", "value": "q"},
            "actions": [{"add_tags": ["q"]}]}  # fmt: skip


@pytest.fixture
def three(desk: Any, now: Any) -> None:
    for n, who in ((1, desk.admin), (2, desk.agent), (3, desk.admin)):
        rule_save(
            kind=RuleKind.EVENT, definition=rule(f"R{n}"), created_by=who, now=now + timedelta(minutes=n)
        )


def test_a_things_history_names_who_saved_each_version(desk: Any, three: None) -> None:
    found = config_history("rules", key="r")
    assert (found.name, found.current, found.active) == ("R3", 3, True)
    assert [(v.version, v.author_name) for v in found.versions] == [
        (3, desk.admin.name),
        (2, desk.agent.name),
        (1, desk.admin.name),
    ]
    with pytest.raises(NotFound):
        config_history("rules", key="missing")
    with pytest.raises(NotFound):
        config_history("nothing", key="r")


def test_two_versions_compared(three: None) -> None:
    compared = config_compare("rules", key="r", a=3, b=1)
    assert (compared.old["name"], compared.new["name"]) == ("R3", "R1")
    assert [(c.path, c.change) for c in compared.changes] == [("name", "changed")]
    with pytest.raises(NotFound):
        config_compare("rules", key="r", a=1, b=4)


def test_a_restore_against_a_replaced_version_is_refused(desk: Any, three: None, now: Any) -> None:
    with pytest.raises(Conflict) as refused:
        version_restore("rules", key="r", version=1, actor=desk.admin, now=now, seen=2)
    assert refused.value.code == "stale"
    assert config_history("rules", key="r").current == 3
    saved = version_restore("rules", key="r", version=1, actor=desk.admin, now=now, seen=3)
    assert (saved.written, saved.head.version) == (True, 4)
    # seen before version 4, which already equals version 1: nothing written, no conflict
    again = version_restore("rules", key="r", version=1, actor=desk.admin, now=now, seen=3)
    assert (again.written, again.head.version) == (False, 4)


def test_changes_across_kinds_page_by_page(desk: Any, three: None) -> None:
    rows, cursor = config_changes(limit=2)
    assert [(r.kind_name, r.version) for r in rows] == [("rules", 3), ("rules", 2)]
    assert cursor is not None
    rest, last = config_changes(cursor=cursor, limit=2)
    assert [(r.version, r.previous) for r in rest] == [(1, None)]
    assert last is None
    assert [r.version for r in config_changes(author_id=desk.agent.pk)[0]] == [2]
    assert config_changes(kind="macros")[0] == []
    with pytest.raises(NotFound):
        config_changes(kind="nothing")
    with pytest.raises(ValidationFailed):
        config_changes(cursor="nonsense")
