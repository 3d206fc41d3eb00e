"""One versioned configuration (`core.versioning`): every kind saves, compares, deactivates,
lists, diffs and reverts the same way, over the services and the API; the configuration cache
sees a revert at once; tier paths keep a history."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps as django_apps

from sportello.core.config import config_cached, forget, forget_all
from sportello.core.versioning import Change, config_kind, config_kinds, definition_diff
from testing import NOW, hand_clock

# -- the diff of two definitions (pure) ------------------------------------------------------------


def test_equal_definitions_have_no_difference() -> None:
    doc = {"key": "k", "when": {"all": [{"field": "ticket.priority", "op": "is", "value": "high"}]}}
    assert definition_diff(doc, {**doc}) == []


def test_a_diff_names_added_removed_and_changed_paths_with_old_and_new_values() -> None:
    a = {"name": "Old", "category": "vip", "when": {"all": [{"value": "high"}, {"value": "low"}]}}
    b = {"name": "New", "position": 3, "when": {"all": [{"value": "urgent"}]}}
    assert definition_diff(a, b) == [
        Change("category", "removed", old="vip"),
        Change("name", "changed", old="Old", new="New"),
        Change("position", "added", new=3),
        Change("when.all[0].value", "changed", old="high", new="urgent"),
        Change("when.all[1]", "removed", old={"value": "low"}),
    ]


def test_a_value_of_another_type_is_changed_as_a_whole() -> None:
    assert definition_diff({"v": 1}, {"v": True}) == [Change("v", "changed", old=1, new=True)]
    assert definition_diff({"v": [1]}, {"v": {"0": 1}}) == [Change("v", "changed", old=[1], new={"0": 1})]
    assert definition_diff([], [{"a": 1}]) == [Change("[0]", "added", new={"a": 1})]


# -- every kind over the API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str  # the registered kind
    path: str  # the thing's path: …/versions, …/revert under it
    create: str  # POST path ("" : created by PUT on `path`)
    body: Callable[[Any, int], dict[str, Any]]  # the definition sent, variant n
    field: str  # the field that differs between variants, as in the stored definition
    value: Callable[[int], Any]  # its value in variant n


def _rule(desk: Any, n: int) -> dict[str, Any]:
    return {
        "kind": "event",
        "key": "k",
        "name": f"Rule {n}",
        "when": {"field": "ticket.subject", "op": "contains", "value": "pages"},
        "actions": [{"add_tags": [f"pages-{n}"]}],
    }


def _macro(desk: Any, n: int) -> dict[str, Any]:
    return {
        "key": "k",
        "name": f"Macro {n}",
        "visibility": {"scope": "everyone", "ids": []},
        "actions": [{"note": {"body": f"Seen {n}"}}],
    }


def _policy(desk: Any, n: int) -> dict[str, Any]:
    return {"key": "k", "name": f"Policy {n}", "pool": {"agents": [desk.agent.pk]}, "max_open_per_agent": n}


def _sla(desk: Any, n: int) -> dict[str, Any]:
    return {
        "key": "k",
        "name": f"SLA {n}",
        "when": {"field": "ticket.department", "op": "is", "value": desk.books.pk},
        "targets": {"first_response": {"normal": {"within": f"{n}h"}}},
    }


def _calendar(desk: Any, n: int) -> dict[str, Any]:
    return {
        "key": "k",
        "name": f"Calendar {n}",
        "time_zone": "Europe/Rome",
        "weekly": {"mon": [[f"0{n}:00", "18:00"]]},
    }


def _blueprint(desk: Any, n: int) -> dict[str, Any]:
    return {
        "key": "k",
        "name": f"Blueprint {n}",
        "department": desk.books.pk,
        "states": [
            {"key": "waiting", "name": "Waiting", "status": "new"},
            {"key": "done", "name": "Done", "status": "solved", "terminal": True},
        ],
        "transitions": [{"key": "finish", "name": "Finish", "from": "waiting", "to": "done"}],
    }


def _tier_path(desk: Any, n: int) -> dict[str, Any]:
    return {
        "name": f"Tiers {n}",
        "department": desk.books.pk,
        "tiers": [
            {"key": "t1", "name": "T1", "team": desk.team.pk},
            {"key": "t2", "name": "T2", "team": desk.team.pk},
        ],
    }


def _template(desk: Any, n: int) -> dict[str, Any]:
    return {"subject": f"Received {n}", "body_text": "Thanks"}


KINDS = [
    Kind("rules", "/rules/k", "/rules", _rule, "name", lambda n: f"Rule {n}"),
    Kind("macros", "/macros/k", "/macros", _macro, "name", lambda n: f"Macro {n}"),
    Kind(
        "assignment_policies",
        "/assignment-policies/k",
        "/assignment-policies",
        _policy,
        "max_open_per_agent",
        lambda n: n,
    ),
    Kind("sla_policies", "/sla-policies/k", "/sla-policies", _sla, "name", lambda n: f"SLA {n}"),
    Kind("calendars", "/calendars/k", "/calendars", _calendar, "name", lambda n: f"Calendar {n}"),
    Kind("blueprints", "/blueprints/k", "/blueprints", _blueprint, "name", lambda n: f"Blueprint {n}"),
    Kind("tier_paths", "/tier-paths/k", "", _tier_path, "name", lambda n: f"Tiers {n}"),
    Kind(
        "notification_templates",
        "/notification-templates/ticket_received/en",
        "",
        _template,
        "subject",
        lambda n: f"Received {n}",
    ),
]
IDS = [k.name for k in KINDS]

# Statements of each history read — the list, one version, a diff — the token's lookup included:
# the head by key, then its versions. Macros first check that the caller may see the macro (one
# more); a notification template's versions are read by its key alone (one less).
READS = {
    "rules": (3, 3, 3),
    "macros": (4, 4, 4),
    "assignment_policies": (3, 3, 3),
    "sla_policies": (3, 3, 3),
    "calendars": (3, 3, 3),
    "blueprints": (3, 3, 3),
    "tier_paths": (3, 3, 3),
    "notification_templates": (2, 2, 2),
}


def save(client: Any, kind: Kind, desk: Any, n: int, *, create: bool = False) -> Any:
    body = kind.body(desk, n)
    if create and kind.create:
        r = client.post(kind.create, body)
        assert r.status_code == 201, r.content
    else:
        r = client.put(kind.path, body)
        assert r.status_code == 200, r.content
    return r


@pytest.fixture
def admin(desk: Any, api: Any, monkeypatch: Any) -> Any:
    hand_clock(monkeypatch, NOW)
    return api(desk.admin)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_each_save_is_a_version_and_an_equal_one_writes_nothing(desk: Any, admin: Any, kind: Kind) -> None:
    # given version 1, then version 2
    save(admin, kind, desk, 1, create=True)
    save(admin, kind, desk, 2)
    # when the same definition is saved again
    save(admin, kind, desk, 2)
    # then there are two versions, newest first, by the admin
    r = admin.get(f"{kind.path}/versions")
    assert r.status_code == 200, r.content
    items = r.json()["items"] if isinstance(r.json(), dict) else sorted(r.json(), key=lambda v: -v["version"])
    assert [(v["version"], v["created_by_id"]) for v in items] == [(2, desk.admin.pk), (1, desk.admin.pk)]
    # and each holds its own definition
    one, two = (admin.get(f"{kind.path}/versions/{n}").json() for n in (1, 2))
    assert (one["version"], one["definition"][kind.field]) == (1, kind.value(1))
    assert (two["version"], two["definition"][kind.field]) == (2, kind.value(2))
    assert one["created_at"] == two["created_at"]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_diff_of_two_versions_names_what_changed(desk: Any, admin: Any, kind: Kind) -> None:
    save(admin, kind, desk, 1, create=True)
    save(admin, kind, desk, 2)
    r = admin.get(f"{kind.path}/versions/1/diff/2")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["from_version"], body["to_version"]) == (1, 2)
    assert {"path": kind.field, "change": "changed", "old": kind.value(1), "new": kind.value(2)} in body[
        "changes"
    ]
    # the other way round, old and new swap; a version against itself differs in nothing
    back = admin.get(f"{kind.path}/versions/2/diff/1").json()["changes"]
    assert {"path": kind.field, "change": "changed", "old": kind.value(2), "new": kind.value(1)} in back
    assert admin.get(f"{kind.path}/versions/2/diff/2").json()["changes"] == []


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_revert_is_a_new_version_equal_to_the_old_one(desk: Any, admin: Any, kind: Kind) -> None:
    save(admin, kind, desk, 1, create=True)
    save(admin, kind, desk, 2)
    # when version 1 is reverted to
    r = admin.post(f"{kind.path}/revert", {"version": 1})
    assert r.status_code == 200, r.content
    # then version 3 is written, equal to version 1
    assert (r.json()["version"], r.json()["written"]) == (3, True)
    one, three = (admin.get(f"{kind.path}/versions/{n}").json()["definition"] for n in (1, 3))
    assert three == one == r.json()["definition"]
    assert admin.get(f"{kind.path}/versions/1/diff/3").json()["changes"] == []
    # and reverting to what is current (version 3, or version 1 which equals it) writes nothing
    for n in (3, 1):
        again = admin.post(f"{kind.path}/revert", {"version": n})
        assert (again.status_code, again.json()["version"], again.json()["written"]) == (200, 3, False)
    assert [v["version"] for v in _versions(admin, kind)] == [3, 2, 1]


def _versions(client: Any, kind: Kind) -> list[dict[str, Any]]:
    body = client.get(f"{kind.path}/versions").json()
    return body["items"] if isinstance(body, dict) else sorted(body, key=lambda v: -v["version"])


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_missing_versions_and_bad_reverts_answer_the_usual_errors(desk: Any, admin: Any, kind: Kind) -> None:
    save(admin, kind, desk, 1, create=True)
    huge = 10**22  # past any integer column
    for path in (f"{kind.path}/versions/7", f"{kind.path}/versions/1/diff/7", f"{kind.path}/versions/{huge}",
                 f"{kind.path}/versions/1/diff/{huge}", f"{kind.path}/versions/-1"):  # fmt: skip
        r = admin.get(path)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), path
    for version in (7, huge):
        r = admin.post(f"{kind.path}/revert", {"version": version})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    for body in ({"version": "1"}, {"version": 0}, {}, {"version": 1, "extra": True}):
        r = admin.post(f"{kind.path}/revert", body)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_failed"), body
    # nothing was written
    assert [v["version"] for v in _versions(admin, kind)] == [1]


@pytest.mark.parametrize("kind", [k for k in KINDS if k.name != "notification_templates"], ids=IDS[:-1])
def test_the_history_of_a_missing_key_is_not_found(desk: Any, admin: Any, kind: Kind) -> None:
    for path in ("/versions", "/versions/1", "/versions/1/diff/1"):
        r = admin.get(kind.path.replace("/k", "/nothing") + path)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), path
    r = admin.post(kind.path.replace("/k", "/nothing") + "/revert", {"version": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_history_reads_cost_a_fixed_number_of_statements(
    desk: Any, admin: Any, kind: Kind, django_assert_num_queries: Any
) -> None:
    for n in (1, 2, 3, 4):
        save(admin, kind, desk, n, create=n == 1)
    admin.get(f"{kind.path}/versions")  # warm: the token's last use is written once a minute
    listed, one, diff = READS[kind.name]
    with django_assert_num_queries(listed):
        assert admin.get(f"{kind.path}/versions").status_code == 200
    with django_assert_num_queries(one):
        assert admin.get(f"{kind.path}/versions/2").status_code == 200
    with django_assert_num_queries(diff):
        assert admin.get(f"{kind.path}/versions/1/diff/4").status_code == 200


# -- the configuration cache -----------------------------------------------------------------------


def test_a_revert_is_in_force_at_once(desk: Any, admin: Any) -> None:
    from sportello.automation.event_rules import active_rule_rows
    from sportello.automation.models import RuleKind
    from sportello.notifications.rendering import template_in_force
    from sportello.sla.services import active_policies
    from sportello.sla.tiers import paths_by_department

    for kind in KINDS:
        if kind.name in ("rules", "sla_policies", "tier_paths", "notification_templates"):
            save(admin, kind, desk, 1, create=True)
            save(admin, kind, desk, 2)
    # the hot paths read version 2 (and cache it)
    assert [row[1] for row in active_rule_rows(RuleKind.EVENT)] == [2]
    assert [p.name for p in active_policies()] == ["SLA 2"]
    assert paths_by_department()[desk.books.pk].name == "Tiers 2"
    assert template_in_force(key="ticket_received", language="en")[0].subject == "Received 2"  # type: ignore[index]
    # when each is reverted to version 1
    for kind in KINDS:
        if kind.name in ("rules", "sla_policies", "tier_paths", "notification_templates"):
            assert admin.post(f"{kind.path}/revert", {"version": 1}).json()["written"] is True
    # then the next read sees version 3, with the definition of version 1
    assert [row[1] for row in active_rule_rows(RuleKind.EVENT)] == [3]
    assert [(p.version, p.name) for p in active_policies()] == [(3, "SLA 1")]
    assert paths_by_department()[desk.books.pk].name == "Tiers 1"
    assert template_in_force(key="ticket_received", language="en")[0].subject == "Received 1"  # type: ignore[index]


def test_one_forget_drops_every_cached_configuration(db: Any) -> None:
    built: list[str] = []

    def build() -> str:
        built.append("x")
        return f"value {len(built)}"

    assert config_cached("rules", build) == "value 1"
    assert config_cached("rules", build) == "value 1"  # the signature did not move
    forget("calendars")
    assert config_cached("rules", build) == "value 1"  # another name's forget leaves it
    forget_all()
    assert config_cached("rules", build) == "value 2"


# -- the services ------------------------------------------------------------------------------------


def test_every_kind_is_registered_by_name(db: Any) -> None:
    import sportello.api  # noqa: F401  (every app's API, and so every kind)

    assert set(config_kinds()) >= {k.name for k in KINDS}
    assert config_kind("rules").label == "rule"


def test_a_bare_process_knows_every_kind_without_loading_the_urls() -> None:
    # given a new process that only sets Django up (a command, the worker)
    import subprocess
    import sys

    code = (
        "import django, json; django.setup(); "
        "from sportello.core.versioning import config_kinds; print(json.dumps(sorted(config_kinds())))"
    )
    out = subprocess.run(  # noqa: S603  (this interpreter, a fixed script)
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "sportello.settings"},
    )
    # then every kind the API registers is already there
    import sportello.api  # noqa: F401

    assert set(json.loads(out.stdout)) == set(config_kinds())


def test_deactivating_a_rule_is_a_new_version_and_a_second_time_writes_nothing(desk: Any, admin: Any) -> None:
    save(admin, KINDS[0], desk, 1, create=True)
    r = admin.delete("/rules/k")
    assert (r.status_code, r.json()["version"], r.json()["active"], r.json()["written"]) == (
        200,
        2,
        False,
        True,
    )
    again = admin.delete("/rules/k")
    assert (again.json()["version"], again.json()["written"]) == (2, False)
    assert admin.get("/rules/k/versions/1/diff/2").json()["changes"] == [
        {"path": "active", "change": "changed", "old": True, "new": False}
    ]
    # reverting to version 1 brings it back
    assert admin.post("/rules/k/revert", {"version": 1}).json() == {
        "version": 3,
        "written": True,
        "definition": admin.get("/rules/k/versions/1").json()["definition"],
    }
    assert admin.get("/rules/k").json()["active"] is True


def test_deactivating_an_sla_policy_keeps_its_versions(desk: Any, admin: Any) -> None:
    save(admin, KINDS[3], desk, 1, create=True)
    r = admin.delete("/sla-policies/k")
    assert (r.status_code, r.json()["version"], r.json()["active"]) == (200, 1, False)
    assert [v["version"] for v in _versions(admin, KINDS[3])] == [1]
    # reverting to the current version writes nothing: the policy stays inactive
    assert admin.post("/sla-policies/k/revert", {"version": 1}).json()["written"] is False
    assert admin.get("/sla-policies/k").json()["active"] is False


def test_only_admins_revert(desk: Any, api: Any, admin: Any) -> None:
    save(admin, KINDS[0], desk, 1, create=True)
    save(admin, KINDS[0], desk, 2)
    r = api(desk.agent).post("/rules/k/revert", {"version": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    assert [v["version"] for v in _versions(admin, KINDS[0])] == [2, 1]


def test_tier_paths_keep_every_version(desk: Any, admin: Any) -> None:
    from sportello.sla.models import TierPathVersion

    for n in (1, 2, 2, 3):
        save(admin, KINDS[6], desk, n)
    rows = TierPathVersion.objects.filter(path__key="k").order_by("version")
    assert [(v.version, v.definition["name"], v.created_by_id) for v in rows] == [
        (1, "Tiers 1", desk.admin.pk),
        (2, "Tiers 2", desk.admin.pk),
        (3, "Tiers 3", desk.admin.pk),
    ]


def test_the_migration_gives_each_tier_path_its_current_definition_as_its_current_version(desk: Any) -> None:
    from sportello.sla.models import TierPath, TierPathVersion

    # given a tier path saved before versions were kept: at version 3, no version rows
    definition = {
        "key": "old",
        "name": "Old tiers",
        "department": desk.books.pk,
        "tiers": [
            {"key": "t1", "name": "T1", "team": desk.team.pk},
            {"key": "t2", "name": "T2", "team": desk.team.pk},
        ],
    }
    path = TierPath.objects.create(
        key="old",
        name="Old tiers",
        department=desk.books,
        definition=definition,
        version=3,
        created_at=NOW,
        updated_at=NOW,
    )
    # when the migration's data step runs
    migration = importlib.import_module("sportello.sla.migrations.0007_tier_path_versions")
    migration.current_versions(django_apps, None)
    # then its history holds the current definition as version 3
    [row] = TierPathVersion.objects.filter(path=path)
    assert (row.version, row.definition, row.created_at, row.created_by_id) == (3, definition, NOW, None)


def test_a_template_restored_to_its_default_can_be_reverted_to_a_saved_text(desk: Any, admin: Any) -> None:
    template = KINDS[-1]
    save(admin, template, desk, 1)
    save(admin, template, desk, 2)
    # given the admin's text removed (the shipped default in force; the versions kept)
    assert admin.delete(template.path).status_code == 204
    # when version 1 is reverted to
    r = admin.post(f"{template.path}/revert", {"version": 1})
    # then it is in force again as version 3, the numbering continued
    assert (r.status_code, r.json()["version"], r.json()["written"]) == (200, 3, True)
    assert admin.get(template.path).json()["subject"] == "Received 1"
