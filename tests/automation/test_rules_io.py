"""Rules as code: export and import through the API and the `sportello rules` command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command

from sportello.automation.models import AssignmentPolicy, Macro, Rule, RuleKind, RuleVersion
from sportello.automation.services import rule_save, rules_export

DOC = """\
schema: sportello/rules/v1
event_rules:
  - key: refund-to-billing
    name: Refunds go high
    on: [ticket.created]
    when: {field: ticket.subject, op: contains, value: refund}
    actions:
      - set: {field: ticket.priority, value: high}
time_rules:
  - key: idle-day
    name: Idle for a day
    anchor: last_update
    when: {field: ticket.status_category, op: is, value: open}
    steps:
      - after: 1d
        actions: [{add_tags: [idle]}]
macros:
  - key: refund-ok
    name: Refund approved
    visibility: {scope: everyone, ids: []}
    actions: [{add_tags: [refund_approved]}]
assignment_policies:
  - key: books-rr
    name: Books round robin
    pool: {department: %(dept)s}
    max_open_per_agent: 5
"""


def doc(desk: Any) -> str:
    return DOC % {"dept": desk.books.pk}


def yaml_post(client: Any, path: str, text: str) -> Any:
    return client.client.post(
        f"/api/v1{path}", data=text, content_type="application/yaml", headers=client.headers
    )


def test_import_creates_every_item_then_a_second_import_changes_nothing(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    # when the document is imported
    r = yaml_post(client, "/rules/import", doc(desk))
    # then every item is created at version 1
    assert r.status_code == 200, r.content
    assert [(i["kind"], i["key"], i["outcome"], i["version"]) for i in r.json()["items"]] == [
        ("event_rule", "refund-to-billing", "created", 1),
        ("time_rule", "idle-day", "created", 1),
        ("macro", "refund-ok", "created", 1),
        ("assignment_policy", "books-rr", "created", 1),
    ]
    assert Macro.objects.get(key="refund-ok").visibility == "everyone"
    assert AssignmentPolicy.objects.get(key="books-rr").definition["max_open_per_agent"] == 5
    # and importing the same document again writes no version
    r = yaml_post(client, "/rules/import", doc(desk))
    assert r.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 4}
    assert RuleVersion.objects.count() == 2


def test_export_then_import_round_trips_with_one_change_updated(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    yaml_post(client, "/rules/import", doc(desk))
    # given the export as YAML
    r = client.client.get("/api/v1/rules/export", headers={**client.headers, "Accept": "application/yaml"})
    assert r["Content-Type"].startswith("application/yaml")
    exported = yaml.safe_load(r.content)
    assert exported["schema"] == "sportello/rules/v1"
    assert [x["version"] for x in exported["event_rules"]] == [1]
    # when one rule is edited and the document imported
    exported["event_rules"][0]["actions"][0]["set"]["value"] = "urgent"
    r = client.post("/rules/import", exported)
    # then only that rule gets a new version
    assert [(i["key"], i["outcome"], i["version"]) for i in r.json()["items"]] == [
        ("refund-to-billing", "updated", 2),
        ("idle-day", "unchanged", 1),
        ("refund-ok", "unchanged", 1),
        ("books-rr", "unchanged", 1),
    ]
    # and the JSON export equals the YAML export's data
    as_json = client.get("/rules/export").json()
    assert as_json == yaml.safe_load(client.get("/rules/export", {"format": "yaml"}).content)


def test_dry_run_reports_and_writes_nothing(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    r = client.client.post(
        "/api/v1/rules/import?dry_run=true",
        data=doc(desk),
        content_type="application/yaml",
        headers=client.headers,
    )
    assert r.json()["dry_run"] is True
    assert r.json()["counts"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert (Rule.objects.count(), Macro.objects.count(), AssignmentPolicy.objects.count()) == (0, 0, 0)


def test_an_invalid_item_refuses_the_whole_document_with_its_path(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    bad = doc(desk).replace("op: is, value: open", "op: sideways, value: open")
    r = yaml_post(client, "/rules/import", bad)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "time_rules[0].when.op"
    assert Rule.objects.count() == 0


def test_a_macro_for_a_missing_team_refuses_the_whole_document_with_its_path(desk: Any, api: Any) -> None:
    # given a document whose macro belongs to a team that does not exist
    bad = doc(desk).replace("{scope: everyone, ids: []}", "{scope: team, ids: [987654]}")
    # when it is imported, then nothing is saved and the error names the macro's owner
    r = yaml_post(api(desk.admin), "/rules/import", bad)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "macros[0].visibility.ids"
    assert (Rule.objects.count(), Macro.objects.count(), AssignmentPolicy.objects.count()) == (0, 0, 0)


def test_a_key_of_the_other_kind_refuses_the_whole_document(desk: Any, api: Any, now: Any) -> None:
    # given a time rule keyed like the document's event rule
    rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "refund-to-billing",
            "name": "x",
            "anchor": "created",
            "when": {"field": "ticket.status_category", "op": "is", "value": "open"},
            "steps": [{"after": "1h", "actions": [{"add_tags": ["x"]}]}],
        },
        created_by=None,
        now=now,
    )
    r = yaml_post(api(desk.admin), "/rules/import", doc(desk))
    assert (r.status_code, r.json()["error"]["field"]) == (422, "event_rules[0].key")
    assert Rule.objects.count() == 1
    assert Macro.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema: sportello/rules/v2\n", "unsupported schema 'sportello/rules/v2'"),
        ("event_rules: []\n", "the document must start with `schema: sportello/rules/v1`"),
    ],
)
def test_other_schema_versions_are_refused_clearly(desk: Any, api: Any, text: str, message: str) -> None:
    r = yaml_post(api(desk.admin), "/rules/import", text)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "schema"
    assert r.json()["error"]["message"].startswith(message)


def test_invalid_yaml_names_line_and_column(desk: Any, api: Any) -> None:
    r = yaml_post(api(desk.admin), "/rules/import", "schema: [unclosed\n")
    assert r.status_code == 422
    assert "invalid YAML at line 2" in r.json()["error"]["message"]


def test_cli_exports_and_imports_files(desk: Any, tmp_path: Path) -> None:
    source = tmp_path / "rules.yaml"
    source.write_text(doc(desk), encoding="utf-8")
    out = io.StringIO()
    # when the file is imported with --dry-run, then for real
    call_command("rules", "import", str(source), "--dry-run", stdout=out)
    assert Rule.objects.count() == 0
    assert out.getvalue().splitlines()[-1] == "4 created, 0 updated, 0 unchanged (dry run: nothing written)"
    out = io.StringIO()
    call_command("rules", "import", str(source), stdout=out)
    assert out.getvalue().splitlines()[0] == "created   event_rule refund-to-billing (version 1)"
    # and exported to a file
    target = tmp_path / "export.yaml"
    call_command("rules", "export", "--output", str(target))
    assert yaml.safe_load(target.read_text()) == json.loads(json.dumps(rules_export()))
    # then importing the export changes nothing
    out = io.StringIO()
    call_command("rules", "import", str(target), stdout=out)
    assert out.getvalue().splitlines()[-1] == "0 created, 0 updated, 4 unchanged"


def test_cli_reports_the_path_of_an_error(desk: Any, tmp_path: Path) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text("schema: sportello/rules/v1\nevent_rules: [{key: x}]\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad.yaml: event_rules\[0\]\.name: is required"):
        call_command("rules", "import", str(source))


BY_KEY = """\
schema: sportello/rules/v1
event_rules:
  - key: novels-to-bruno
    name: Novels go to Bruno
    when:
      all:
        - {field: ticket.department, op: is, value: books}
        - {field: ticket.team, op: in, value: [novels, tier-1]}
        - {field: ticket.assignee, op: is_not, value: Bruno@Desk.test}
    actions:
      - assign: {agent: bruno@desk.test}
      - set: {field: ticket.team, value: tier-1}
      - notify: {to: [assignee, "agent:admin@desk.test"], template: heads_up}
      - apply_macro: tier-1-hello
  - key: electronics-rr
    name: Electronics round robin
    when: {field: ticket.department, op: is, value: electronics}
    actions: [{assign: {policy: books-rr}}]
time_rules:
  - key: idle-tier-1
    name: Idle in tier 1
    anchor: last_update
    when: {field: ticket.team, op: is, value: tier-1}
    steps:
      - after: 1d
        actions: [{assign: {department: electronics}}]
macros:
  - key: tier-1-hello
    name: Tier 1 says hello
    visibility: {scope: team, ids: [tier-1]}
    actions: [{add_tags: [hello]}]
assignment_policies:
  - key: books-rr
    name: Books round robin
    pool: {agents: [bruno@desk.test]}
"""


@pytest.fixture
def tier_1(desk: Any) -> Any:
    from sportello.accounts.services import team_create

    return team_create(name="Tier 1", department=desk.books, members=[desk.agent])


def test_a_document_names_records_by_key_and_import_resolves_this_desks_ids(
    desk: Any, api: Any, tier_1: Any
) -> None:
    # Given a document naming departments and teams by slug, agents by e-mail (any case),
    # macros and policies by key — a macro and a policy of the same document included
    assert (desk.books.slug, desk.team.slug, tier_1.slug) == ("books", "novels", "tier-1")
    # When it is imported
    r = yaml_post(api(desk.admin), "/rules/import", BY_KEY)
    assert r.status_code == 200, r.content
    assert r.json()["counts"] == {"created": 5, "updated": 0, "unchanged": 0}
    # Then the saved definitions hold this desk's ids
    policy = AssignmentPolicy.objects.get(key="books-rr")
    macro = Macro.objects.get(key="tier-1-hello")
    saved = {v.rule.key: v.definition for v in RuleVersion.objects.select_related("rule")}
    assert saved["novels-to-bruno"]["when"] == {
        "all": [
            {"field": "ticket.department", "op": "is", "value": desk.books.pk},
            {"field": "ticket.team", "op": "in", "value": [desk.team.pk, tier_1.pk]},
            {"field": "ticket.assignee", "op": "is_not", "value": desk.agent.pk},
        ]
    }
    assert saved["novels-to-bruno"]["actions"] == [
        {"assign": {"agent": desk.agent.pk}},
        {"set": {"field": "ticket.team", "value": tier_1.pk}},
        {
            "notify": {
                "template": "heads_up",
                "subject": "",
                "body": "",
                "to": ["assignee", f"agent:{desk.admin.pk}"],
            }
        },
        {"apply_macro": macro.pk},
    ]
    assert saved["electronics-rr"]["actions"] == [{"assign": {"policy": policy.pk}}]
    assert saved["idle-tier-1"]["steps"][0]["actions"] == [{"assign": {"department": desk.electronics.pk}}]
    assert macro_definition(macro)["visibility"] == {"scope": "team", "ids": [tier_1.pk]}
    assert policy.definition["pool"] == {"agents": [desk.agent.pk]}


def macro_definition(macro: Macro) -> dict[str, Any]:
    from sportello.automation.models import MacroVersion

    return MacroVersion.objects.get(macro=macro, version=macro.version).definition


def test_the_export_names_records_by_key_and_imports_back_unchanged(desk: Any, api: Any, tier_1: Any) -> None:
    client = api(desk.admin)
    yaml_post(client, "/rules/import", BY_KEY)
    # When the rules are exported as YAML
    text = client.get("/rules/export", {"format": "yaml"}).content.decode()
    exported = yaml.safe_load(text)
    # Then records are named by key, not by id
    rule = next(r for r in exported["event_rules"] if r["key"] == "novels-to-bruno")
    assert rule["when"]["all"] == [
        {"field": "ticket.department", "op": "is", "value": "books"},
        {"field": "ticket.team", "op": "in", "value": ["novels", "tier-1"]},
        {"field": "ticket.assignee", "op": "is_not", "value": "bruno@desk.test"},
    ]
    assert rule["actions"] == [
        {"assign": {"agent": "bruno@desk.test"}},
        {"set": {"field": "ticket.team", "value": "tier-1"}},
        {
            "notify": {
                "template": "heads_up",
                "subject": "",
                "body": "",
                "to": ["assignee", "agent:admin@desk.test"],
            }
        },
        {"apply_macro": "tier-1-hello"},
    ]
    by_key = {r["key"]: r for r in exported["event_rules"] + exported["time_rules"]}
    assert by_key["electronics-rr"]["actions"] == [{"assign": {"policy": "books-rr"}}]
    assert by_key["idle-tier-1"]["steps"][0]["actions"] == [{"assign": {"department": "electronics"}}]
    assert exported["macros"][0]["visibility"] == {"scope": "team", "ids": ["tier-1"]}
    assert exported["assignment_policies"][0]["pool"] == {"agents": ["bruno@desk.test"]}
    # and importing the export writes nothing
    r = yaml_post(client, "/rules/import", text)
    assert r.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 5}


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("set: {field: ticket.team, value: tier-1}", "set: {field: ticket.team, value: tier-9}",
         "event_rules[0].actions[1].set.value", "no team with the slug 'tier-9' in this desk"),
        ("assign: {agent: bruno@desk.test}", "assign: {agent: no@desk.test}",
         "event_rules[0].actions[0].assign.agent", "no agent with the e-mail 'no@desk.test' in this desk"),
        ("op: is, value: books}", "op: is, value: returns}",
         "event_rules[0].when.all[0].value", "no department with the slug 'returns' in this desk"),
        ('"agent:admin@desk.test"', '"agent:ghost@desk.test"',
         "event_rules[0].actions[2].notify.to[1]", "no agent with the e-mail 'ghost@desk.test' in this desk"),
        ("apply_macro: tier-1-hello", "apply_macro: tier-1-bye",
         "event_rules[0].actions[3].apply_macro", "no macro with the key 'tier-1-bye' in this desk"),
        ("ids: [tier-1]", "ids: [tier-2]",
         "macros[0].visibility.ids[0]", "no team with the slug 'tier-2' in this desk"),
        ("pool: {agents: [bruno@desk.test]}", "pool: {agents: [bruno@desk.test, x@desk.test]}",
         "assignment_policies[0].pool.agents[1]", "no agent with the e-mail 'x@desk.test' in this desk"),
    ],
)  # fmt: skip
def test_a_key_that_names_no_record_refuses_the_document_naming_path_and_key(
    desk: Any, api: Any, tier_1: Any, old: str, new: str, field: str, message: str
) -> None:
    assert old in BY_KEY
    r = yaml_post(api(desk.admin), "/rules/import", BY_KEY.replace(old, new))
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "validation_failed", "message": message, "field": field}
    assert (Rule.objects.count(), Macro.objects.count(), AssignmentPolicy.objects.count()) == (0, 0, 0)


def test_team_slugs_are_unique_in_the_desk(desk: Any, api: Any) -> None:
    from sportello.accounts.services import team_create

    # Given a team named Novels in Books (slug novels), another in Electronics is told apart
    other = team_create(name="Novels", department=desk.electronics)
    again = team_create(name="novels!", department=desk.electronics)
    assert (desk.team.slug, other.slug, again.slug) == ("novels", "electronics-novels", "novels-2")
    assert api(desk.admin).get(f"/teams/{other.pk}").json()["slug"] == "electronics-novels"
