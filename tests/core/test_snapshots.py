"""History for the kinds recorded as snapshots (`core.snapshots`): departments, statuses, custom
fields, layouts, shared canned responses, agents and teams. Each change appends a version only
when the definition changed; a thing changed for the first time gets its former state as version
1; two versions compare by path; a restore applies the old definition through the kind's own
service and refuses a save made meanwhile; the audit log lists them with the versioned kinds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from sportello.core import clock
from sportello.core.errors import Conflict
from sportello.core.history import config_changes, config_compare, config_history, version_restore
from sportello.core.models import ConfigSnapshot

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    kind: str
    make: Callable[[Any, Any], str]  # creates the thing by the admin: its key
    change: Callable[[Any, Any, str, int], None]  # its n-th change, by the admin
    path: str  # the definition's path the change writes
    read: Callable[[str], Any]  # the value at `path` as stored


def _department_make(desk: Any, now: Any) -> str:
    from sportello.accounts.services import department_create

    return department_create(name="Returns", actor=desk.admin).slug


def _department_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.accounts.models import Department
    from sportello.accounts.services import department_update

    department_update(department=Department.objects.get(slug=key), actor=desk.admin, name=f"Returns {n}")


def _status_make(desk: Any, now: Any) -> str:
    from sportello.tickets.statuses import status_create

    return status_create(
        actor=desk.admin, key="waiting_parts", name="Waiting", category="on_hold", now=now
    ).key


def _status_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.tickets.models import Status
    from sportello.tickets.statuses import status_update

    status_update(actor=desk.admin, status_id=Status.objects.get(key=key).pk, name=f"Waiting {n}", now=now)


def _field_make(desk: Any, now: Any) -> str:
    from sportello.tickets.fields_services import custom_field_create

    return custom_field_create(actor=desk.admin, key="order_no", label="Order", type="text").key


def _field_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.tickets.fields_services import custom_field_update
    from sportello.tickets.models import CustomField

    custom_field_update(actor=desk.admin, field=CustomField.objects.get(key=key), label=f"Order {n}")


def _layout_make(desk: Any, now: Any) -> str:
    from sportello.tickets.fields_services import custom_field_create

    for i in range(1, 5):
        custom_field_create(actor=desk.admin, key=f"f{i}", label=f"F{i}", type="text")
    return str(desk.books.slug)


def _layout_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.tickets.fields_services import LayoutRowSpec, layout_replace

    layout_replace(actor=desk.admin, department=desk.books, rows=[LayoutRowSpec(field=f"f{n}")])


def _canned_make(desk: Any, now: Any) -> str:
    from sportello.notifications.canned import canned_create

    made = canned_create(
        actor=desk.admin, title="Thanks", body="Thank you", department_id=desk.books.pk, now=now
    )
    return str(made.pk)


def _canned_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.notifications.canned import canned_update

    canned_update(actor=desk.admin, canned_id=int(key), title=f"Thanks {n}", now=now)


def _agent_make(desk: Any, now: Any) -> str:
    from sportello.accounts.services import agent_create

    return agent_create(email="new@desk.test", name="New", actor=desk.admin).email


def _agent_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.accounts.models import User
    from sportello.accounts.services import agent_update

    agent_update(agent=User.objects.get(email=key), actor=desk.admin, name=f"New {n}")


def _team_make(desk: Any, now: Any) -> str:
    from sportello.accounts.services import team_create

    return team_create(name="Poetry", department=desk.books, actor=desk.admin).slug


def _team_change(desk: Any, now: Any, key: str, n: int) -> None:
    from sportello.accounts.models import Team
    from sportello.accounts.services import team_update

    team_update(team=Team.objects.get(slug=key), actor=desk.admin, name=f"Poetry {n}")


def _value(model: str, lookup: str, attr: str) -> Callable[[str], Any]:
    def read(key: str) -> Any:
        from django.apps import apps

        return getattr(apps.get_model(model).objects.get(**{lookup: key}), attr)

    return read


def _layout_fields(key: str) -> Any:
    from sportello.tickets.models import LayoutField

    return [r.field.key for r in LayoutField.objects.filter(department__slug=key).select_related("field")]


CASES = [
    Case("departments", _department_make, _department_change, "name",
         _value("accounts.Department", "slug", "name")),
    Case("statuses", _status_make, _status_change, "name", _value("tickets.Status", "key", "name")),
    Case("fields", _field_make, _field_change, "label", _value("tickets.CustomField", "key", "label")),
    Case("layouts", _layout_make, _layout_change, "fields[0].field", _layout_fields),
    Case("canned_responses", _canned_make, _canned_change, "title",
         _value("notifications.CannedResponse", "pk", "title")),
    Case("agents", _agent_make, _agent_change, "name", _value("accounts.User", "email", "name")),
    Case("teams", _team_make, _team_change, "name", _value("accounts.Team", "slug", "name")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_each_kind_records_compares_and_restores(desk: Any, now: Any, case: Case) -> None:
    key = case.make(desk, now)
    case.change(desk, now, key, 2)
    case.change(desk, now, key, 2)  # the same again: no new version
    case.change(desk, now, key, 3)
    history = config_history(case.kind, key=key)
    versions = [v.version for v in history.versions]
    assert versions == list(range(len(versions), 0, -1))  # consecutive, newest first
    assert history.current == versions[0]
    assert history.versions[0].author_name == desk.admin.name
    first = versions[-1]
    compared = config_compare(case.kind, key=key, a=versions[1], b=versions[0])
    assert [c.path for c in compared.changes] == [case.path]
    old_value = case.read(key)
    # a save made since the restore was confirmed: refused, nothing written
    with pytest.raises(Conflict) as stale:
        version_restore(case.kind, key=key, version=first, actor=desk.admin, now=now, seen=versions[1])
    assert stale.value.code == "stale"
    assert case.read(key) == old_value
    saved = version_restore(case.kind, key=key, version=first, actor=desk.admin, now=now, seen=versions[0])
    assert saved.written
    assert saved.head.version == versions[0] + 1
    again = config_history(case.kind, key=key)
    assert again.versions[0].version == versions[0] + 1
    restored = ConfigSnapshot.objects.get(kind=case.kind, key=key, version=versions[0] + 1)
    assert (
        restored.definition == ConfigSnapshot.objects.get(kind=case.kind, key=key, version=first).definition
    )
    assert case.read(key) != old_value
    # restoring what applies writes nothing
    assert not version_restore(case.kind, key=key, version=first, actor=desk.admin, now=now).written


def test_a_thing_made_by_the_system_gets_its_former_state_as_version_one(desk: Any, now: Any) -> None:
    from sportello.accounts.services import department_update

    assert not ConfigSnapshot.objects.filter(kind="departments").exists()  # the desk's own set-up
    department_update(department=desk.books, actor=desk.admin, name="Bookshop")
    history = config_history("departments", key="books")
    assert [(v.version, v.created_by_id) for v in history.versions] == [(2, desk.admin.pk), (1, None)]
    compared = config_compare("departments", key="books", a=1, b=2)
    assert [(c.path, c.old, c.new) for c in compared.changes] == [("name", "Books", "Bookshop")]


def test_a_things_history_is_never_empty(desk: Any) -> None:
    history = config_history("teams", key=desk.team.slug)  # never changed: version 1 is what it is
    assert [v.version for v in history.versions] == [1]
    assert ConfigSnapshot.objects.get(kind="teams", key=desk.team.slug).definition["members"] == [
        desk.agent.email
    ]


def test_the_audit_log_lists_them_with_the_versioned_kinds(desk: Any, now: Any) -> None:
    from sportello.automation.services import RuleKind, rule_save

    _department_change(desk, now, "books", 1)
    rule = {"key": "r", "name": "R", "when": {"field": "ticket.subject", "op": "contains", "value": "q"},
            "actions": [{"add_tags": ["q"]}]}  # fmt: skip
    later = clock.now() + timedelta(minutes=1)  # the department's services read the clock
    rule_save(kind=RuleKind.EVENT, definition=rule, created_by=desk.admin, now=later)
    rows, _ = config_changes()
    assert [(r.kind_name, r.key, r.version) for r in rows] == [
        ("rules", "r", 1),
        ("departments", "books", 2),
        ("departments", "books", 1),
    ]
    assert rows[1].name == "Returns 1"
    only, _ = config_changes(kind="departments", author_id=desk.admin.pk)
    assert [(r.kind_name, r.version) for r in only] == [("departments", 2)]


def test_restoring_an_agent_never_deactivates_them(desk: Any, now: Any) -> None:
    from sportello.accounts.services import agent_deactivate, agent_reactivate

    agent_deactivate(agent=desk.outsider, actor=desk.admin)
    agent_reactivate(agent=desk.outsider, actor=desk.admin)
    versions = [v.version for v in config_history("agents", key=desk.outsider.email).versions]
    assert versions == [3, 2, 1]
    with pytest.raises(Conflict):
        version_restore("agents", key=desk.outsider.email, version=2, actor=desk.admin, now=now)


def test_an_agent_leaving_a_department_leaves_its_teams_history_too(desk: Any, now: Any) -> None:
    from sportello.accounts.services import agent_update

    agent_update(agent=desk.agent, actor=desk.admin, departments=[desk.electronics])
    history = config_history("teams", key=desk.team.slug)
    assert [(v.version, v.created_by_id) for v in history.versions] == [(2, desk.admin.pk), (1, None)]
    compared = config_compare("teams", key=desk.team.slug, a=1, b=2)
    assert [(c.path, c.change) for c in compared.changes] == [("members[0]", "removed")]


def test_restoring_a_canned_response_shares_it_with_its_department_again(desk: Any, now: Any) -> None:
    from sportello.notifications.canned import canned_update
    from sportello.notifications.models import CannedResponse

    key = _canned_make(desk, now)
    canned_update(actor=desk.admin, canned_id=int(key), department_id=desk.electronics.pk, now=now)
    compared = config_compare("canned_responses", key=key, a=1, b=2)
    assert [(c.path, c.old, c.new) for c in compared.changes] == [("department", "books", "electronics")]
    version_restore("canned_responses", key=key, version=1, actor=desk.admin, now=now)
    assert CannedResponse.objects.get(pk=int(key)).owner_department_id == desk.books.pk


def test_a_layouts_history_keeps_what_customers_may_do_and_restores_it(desk: Any, now: Any) -> None:
    # given a field hidden from customers in Books, then opened to them by mistake
    from sportello.tickets.fields_services import LayoutRowSpec, custom_field_create, layout_replace
    from sportello.tickets.models import LayoutField

    custom_field_create(actor=desk.admin, key="margin", label="Margin", type="text")
    for access in ("hidden", "edit"):
        layout_replace(
            actor=desk.admin,
            department=desk.books,
            rows=[LayoutRowSpec(field="margin", customer_access=access)],
        )
    history = config_history("layouts", key="books")
    newest, before = history.versions[0].version, history.versions[1].version
    compared = config_compare("layouts", key="books", a=before, b=newest)
    assert [(c.path, c.old, c.new) for c in compared.changes] == [
        ("fields[0].customer_access", "hidden", "edit")
    ]
    # when the version before is restored
    version_restore("layouts", key="books", version=before, actor=desk.admin, now=now)
    # then customers can no longer see the field
    assert LayoutField.objects.get(department=desk.books, field__key="margin").customer_access == "hidden"
