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
