"""The whole desk's configuration as one document (`console.desk_config`, `sportello config`):
exported from the demo desk and imported into an empty one, it behaves the same; a dry run
reports exactly what would change and keeps nothing; an import is all or nothing and names the
path of what it refuses; importing what the desk has writes nothing."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sportello.console import desk_config
from sportello.core.errors import Conflict, PermissionDenied, ValidationFailed

pytestmark = pytest.mark.django_db(transaction=False)

SPORTELLO = Path(sys.executable).with_name("sportello")
PHONE = "Hello, since the last update the phone heats up when charging."


@pytest.fixture
def demo(now: datetime) -> dict[str, Any]:
    """The demo desk's people and configuration (no tickets), exported."""
    from sportello.accounts.models import Department
    from sportello.demo.loader import demo_load
    from sportello.notifications.canned import canned_create
    from sportello.notifications.services import template_save
    from sportello.tickets.statuses import status_create

    demo_load(tickets=0, now=now)
    # and what the demo does not have: a template in Spanish, a canned response of Returns
    template_save(
        key="ticket_received",
        language="es",
        subject="Hemos recibido su solicitud {{ ticket.number }}",
        body_text="Hola {{ requester.name }}, le responderemos pronto.",
        actor=_admin(),
        now=now,
    )
    # and a status of its own, besides those every desk starts with
    status_create(actor=_admin(), key="awaiting_parts", name="Awaiting parts", category="on_hold", now=now)
    returns = Department.objects.get(slug="returns")
    canned_create(
        actor=_admin(),
        title="Return label",
        body="Print the label attached.",
        department_id=returns.pk,
        now=now,
    )
    return desk_config.config_export()


def _admin() -> Any:
    from sportello.accounts.models import Role, User

    return User.objects.filter(role=Role.ADMIN).order_by("pk").first()


def _without_versions(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for section in ("event_rules", "time_rules", "blueprints"):
        for item in out[section]:
            item.pop("version", None)
    return out


def _phone_ticket(now: datetime) -> tuple[int, str | None]:
    """A customer writes to Technical Support that the phone heats up: the new ticket's priority
    and team."""
    from sportello.accounts.models import Department
    from sportello.contacts.services import contact_create
    from sportello.core.actors import Actor, ActorKind, Via
    from sportello.tickets import pipeline
    from sportello.tickets.pipeline import NewMessage

    customer = contact_create(email="marta@example.test", name="Marta")
    out = pipeline.ticket_create(
        actor=Actor(ActorKind.CONTACT, customer.pk, customer.name),
        via=Via.EMAIL,
        subject="Overheating",
        requester_id=customer.pk,
        department_id=Department.objects.get(slug="technical-support").pk,
        description=NewMessage(body=PHONE),
        now=now,
    )
    return out.ticket.priority, out.ticket.team.slug if out.ticket.team else None


def test_the_demo_desk_exported_and_imported_into_an_empty_one_behaves_the_same(
    demo: dict[str, Any], now: datetime, tmp_path: Path
) -> None:
    # given the demo desk's configuration as a file
    source = tmp_path / "desk.yaml"
    source.write_text(desk_config.config_dump(demo), encoding="utf-8")
    # (every section has items)
    assert [s for s in desk_config.SECTIONS if not demo[s]] == []
    # when an empty desk (its own database) imports it, then exports its configuration
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["SPORTELLO_DATA_DIR"] = str(tmp_path / "empty")
    env["PYTHONPATH"] = str(Path(desk_config.__file__).parents[2])

    def run(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [str(SPORTELLO), *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate", "--verbosity", "0")
    imported = run("config", "import", str(source))
    run("config", "export", "--output", str(tmp_path / "again.yaml"))
    again = desk_config.load_config_text((tmp_path / "again.yaml").read_text(encoding="utf-8"))
    # then every item was created but the statuses every desk starts with, and the empty desk's
    # configuration is the demo's
    total = sum(len(demo[s]) for s in desk_config.SECTIONS)
    seeded = len(demo["statuses"]) - 1
    assert imported.splitlines()[-1] == f"{total - seeded} created, 0 changed, {seeded} unchanged"
    assert _without_versions(again) == _without_versions(demo)
    # and a ticket that says the phone heats up goes the same way in both desks
    tests = str(Path(__file__).parents[1])
    script = (
        f"import sys; sys.path.insert(0, {tests!r}); "
        "from datetime import datetime, timezone; "
        "from console.test_desk_config import _phone_ticket; "
        "print(*_phone_ticket(datetime.now(timezone.utc)), sep='|')"
    )
    there = run("shell", "-c", script).strip().splitlines()[-1]
    here = _phone_ticket(now)
    assert there == f"{here[0]}|{here[1]}"
    assert here == (3, "replacements")  # high


def test_importing_what_the_desk_has_writes_nothing(demo: dict[str, Any], now: datetime) -> None:
    from sportello.automation.models import Rule
    from sportello.sla.models import SlaPolicy

    versions = {r.key: r.version for r in Rule.objects.all()}
    policies = {p.key: (p.version, p.updated_at) for p in SlaPolicy.objects.all()}
    report = desk_config.config_import(data=copy.deepcopy(demo), actor=_admin(), now=now)
    assert report.items == []
    assert report.counts == {
        "created": 0,
        "changed": 0,
        "unchanged": sum(len(demo[s]) for s in desk_config.SECTIONS),
    }
    assert {r.key: r.version for r in Rule.objects.all()} == versions
    assert {p.key: (p.version, p.updated_at) for p in SlaPolicy.objects.all()} == policies


def test_a_dry_run_reports_every_change_and_keeps_nothing(demo: dict[str, Any], now: datetime) -> None:
    from sportello.accounts.models import Department
    from sportello.automation.models import Rule

    doc = copy.deepcopy(demo)
    books = next(d for d in doc["departments"] if d["slug"] == "books")
    books["name"] = "Books and comics"
    rule = next(r for r in doc["event_rules"] if r["key"] == "phone-heats-up")
    rule["actions"][0] = {"set": {"field": "ticket.priority", "value": "urgent"}}
    doc["departments"].append({"slug": "games", "name": "Games", "email": "", "description": "Video games"})
    before = Rule.objects.get(key="phone-heats-up").version

    report = desk_config.config_import(data=doc, actor=_admin(), now=now, dry_run=True)

    assert report.dry_run
    changes = {
        (i.section, i.key, i.outcome): [(c.path, c.old, c.new) for c in i.changes] for i in report.items
    }
    assert changes == {
        ("departments", "books", "changed"): [("name", "Books", "Books and comics")],
        ("departments", "games", "created"): [],
        ("event_rules", "phone-heats-up", "changed"): [("actions[0].set.value", "high", "urgent")],
    }
    assert (report.counts["created"], report.counts["changed"]) == (1, 2)
    # nothing was kept
    assert Department.objects.get(slug="books").name == "Books"
    assert not Department.objects.filter(slug="games").exists()
    assert Rule.objects.get(key="phone-heats-up").version == before

    # the same document imported for real does what the dry run said
    report = desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert {(i.section, i.key, i.outcome) for i in report.items} == set(changes)
    assert Department.objects.get(slug="books").name == "Books and comics"
    assert Department.objects.get(slug="games").description == "Video games"
    assert Rule.objects.get(key="phone-heats-up").version == before + 1


def test_an_import_is_all_or_nothing_and_names_the_path_at_fault(demo: dict[str, Any], now: datetime) -> None:
    from sportello.accounts.models import Department

    doc = {
        "schema": desk_config.SCHEMA,
        "departments": [{"slug": "games", "name": "Games"}],
        "teams": [{"slug": "consoles", "name": "Consoles", "department": "games", "members": []}],
        "tier_paths": [
            {
                "key": "games",
                "name": "Games",
                "department": "games",
                "tiers": [
                    {"key": "t1", "name": "Tier 1", "team": "consoles"},
                    {"key": "t2", "name": "T2", "team": "nope"},
                ],
            }
        ],
    }
    with pytest.raises(ValidationFailed) as failed:
        desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert failed.value.field == "tier_paths[0].tiers[1].team"
    assert "nope" in failed.value.message
    assert not Department.objects.filter(slug="games").exists()  # the departments section too

    doc = {"schema": desk_config.SCHEMA, "agents": [{"email": "new@desk.test", "departments": ["atlantis"]}]}
    with pytest.raises(ValidationFailed) as failed:
        desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert failed.value.field == "agents[0].departments[0]"

    doc = {"schema": desk_config.SCHEMA, "departments": [{"slug": "other-books", "name": "books"}]}
    with pytest.raises(Conflict) as clash:
        desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert clash.value.field == "departments[0].name"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([], None, "must be a mapping"),
        ({"departments": []}, "schema", "must start with"),
        ({"schema": "sportello/rules/v1"}, "schema", "unsupported schema"),
        ({"schema": desk_config.SCHEMA, "groups": []}, "groups", "unknown section"),
        ({"schema": desk_config.SCHEMA, "fields": {"key": "x"}}, "fields", "must be a list"),
        ({"schema": desk_config.SCHEMA, "fields": ["x"]}, "fields[0]", "must be a mapping"),
        (
            {
                "schema": desk_config.SCHEMA,
                "fields": [{"key": "x", "label": "X", "type": "text", "colour": 1}],
            },
            "fields[0].colour",
            "unknown key",
        ),
        (
            {"schema": desk_config.SCHEMA, "departments": [{"slug": "x"}]},
            "departments[0].name",
            "is required",
        ),
        (
            {"schema": desk_config.SCHEMA, "departments": [{"slug": "Not A Slug", "name": "X"}]},
            "departments[0].slug",
            "must be a slug",
        ),
    ],
)
def test_a_malformed_document_is_refused_with_its_path(
    desk: Any, now: datetime, data: Any, field: str | None, message: str
) -> None:
    with pytest.raises(ValidationFailed) as failed:
        desk_config.config_import(data=data, actor=desk.admin, now=now)
    assert failed.value.field == field
    assert message in failed.value.message


def test_only_admins_import(desk: Any, now: datetime) -> None:
    with pytest.raises(PermissionDenied):
        desk_config.config_import(data={"schema": desk_config.SCHEMA}, actor=desk.agent, now=now)


def test_the_command_prints_the_dry_runs_diff(demo: dict[str, Any], tmp_path: Path) -> None:
    doc = copy.deepcopy(demo)
    next(d for d in doc["departments"] if d["slug"] == "books")["name"] = "Books and comics"
    path = tmp_path / "desk.yaml"
    path.write_text(desk_config.config_dump(doc), encoding="utf-8")
    out = io.StringIO()
    call_command("config", "import", str(path), "--dry-run", stdout=out, stderr=io.StringIO())
    lines = out.getvalue().splitlines()
    assert "changed  departments books" in lines
    assert "    ~ name: 'Books' → 'Books and comics'" in lines
    assert lines[-1].endswith(
        "1 changed, "
        + f"{sum(len(doc[s]) for s in desk_config.SECTIONS) - 1} unchanged (dry run: nothing written)"
    )
    # an error names the file and the path
    path.write_text(f"schema: {desk_config.SCHEMA}\nteams:\n- slug: x\n  name: X\n  department: nope\n")
    with pytest.raises(CommandError, match=r"desk.yaml: teams\[0\].department: no department"):
        call_command("config", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="no active admin"):
        call_command("config", "import", str(path), "--as", "nobody@desk.test", stdout=io.StringIO())


def test_layouts_carry_what_customers_may_do_and_older_documents_read_as_fill(
    demo: dict[str, Any], now: datetime
) -> None:
    from sportello.tickets.models import LayoutField

    # the export says, for every row, what customers may do (the demo's rows: they fill them)
    rows = [row for layout in demo["layouts"] for row in layout["fields"]]
    assert rows
    assert {row["customer_access"] for row in rows} == {"edit"}
    # a document written before customer access existed changes nothing
    older = copy.deepcopy(demo)
    for layout in older["layouts"]:
        for row in layout["fields"]:
            del row["customer_access"]
    assert desk_config.config_import(data=older, actor=_admin(), now=now).items == []
    # an admin's hidden row is imported as such, and reported as the one change
    doc = copy.deepcopy(demo)
    first = doc["layouts"][0]
    first["fields"][0]["customer_access"] = "hidden"
    report = desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert [(i.section, i.key, [(c.path, c.old, c.new) for c in i.changes]) for i in report.items] == [
        ("layouts", first["department"], [("fields[0].customer_access", "edit", "hidden")])
    ]
    row = LayoutField.objects.get(
        department__slug=first["department"], field__key=first["fields"][0]["field"]
    )
    assert row.customer_access == "hidden"
    assert desk_config.config_export()["layouts"][0]["fields"][0]["customer_access"] == "hidden"
    # and one a customer cannot fill cannot be required of them
    first["fields"][0]["required_from_customer"] = True
    with pytest.raises(ValidationFailed) as refused:
        desk_config.config_import(data=doc, actor=_admin(), now=now)
    assert refused.value.field == "layouts[0].fields.0.required_from_customer"


def test_a_canned_title_in_another_case_updates_the_response_it_names(
    demo: dict[str, Any], now: datetime
) -> None:
    # given the document with the Returns response's title written in lower case and a new text
    from sportello.notifications.models import CannedResponse

    doc = copy.deepcopy(demo)
    [item] = [c for c in doc["canned_responses"] if c["title"] == "Return label"]
    item["title"], item["body"] = "return label", "Print the new label."
    # when it is imported
    desk_config.config_import(data=doc, actor=_admin(), now=now)
    # then the one response is renamed and rewritten, not refused as a second of the same title
    rows = list(CannedResponse.objects.filter(title__iexact="return label").values_list("title", "body"))
    assert rows == [("return label", "Print the new label.")]
