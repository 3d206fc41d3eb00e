"""Blueprints as code (export and import, all or nothing, dry run) and the flowchart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import yaml

from sportello.blueprints.models import Blueprint, BlueprintVersion
from workflow_setup import returns_definition

SCHEMA = "sportello/blueprints/v1"


def exchanges(desk: Any) -> dict[str, Any]:
    return {
        "key": "exchanges",
        "name": "Exchanges",
        "department": desk.books.pk,
        "entry": {"field": "ticket.custom.kind", "op": "is", "value": "exchange"},
        "states": [
            {"key": "asked", "name": "Asked", "status": "open"},
            {"key": "sent", "name": "Sent", "status": "solved", "terminal": True},
        ],
        "transitions": [{"key": "send", "name": "Send", "from": "asked", "to": "sent"}],
    }


def test_import_then_export_round_trips_and_a_second_import_changes_nothing(
    desk: Any, fields: None, api: Any
) -> None:
    admin = api(desk.admin)
    document = {"schema": SCHEMA, "blueprints": [returns_definition(desk), exchanges(desk)]}
    # when the document is imported
    r = admin.post("/blueprints/import", document)
    assert r.status_code == 200, r.content
    assert [(i["key"], i["outcome"], i["version"]) for i in r.json()["items"]] == [
        ("returns", "created", 1),
        ("exchanges", "created", 1),
    ]
    # then the export holds both, every field written out, with their versions
    exported = api(desk.agent).get("/blueprints/export").json()
    assert exported["schema"] == SCHEMA
    assert [(b["key"], b["version"], b["allow_automation_bypass"]) for b in exported["blueprints"]] == [
        ("exchanges", 1, False),
        ("returns", 1, False),
    ]
    # and importing the export changes nothing
    r = admin.post("/blueprints/import", exported)
    assert r.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 2}
    # and an edited export updates just the edited blueprint
    exported["blueprints"][0]["name"] = "Exchanges of goods"
    r = admin.post("/blueprints/import", exported)
    assert [(i["key"], i["outcome"], i["version"]) for i in r.json()["items"]] == [
        ("exchanges", "updated", 2),
        ("returns", "unchanged", 1),
    ]
    # and the YAML export is the same data
    as_yaml = admin.client.get("/api/v1/blueprints/export?format=yaml", headers=admin.headers)
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content) == admin.get("/blueprints/export").json()


def test_blueprints_name_departments_teams_and_agents_by_key_in_documents(
    desk: Any, fields: None, api: Any
) -> None:
    # Given a blueprint document naming its department, a transition's owners and an after
    # action by key
    admin = api(desk.admin)
    item = exchanges(desk)
    item["department"] = "books"
    item["transitions"][0]["owners"] = {
        "agents": ["Bruno@desk.test"],
        "teams": ["novels"],
        "departments": ["books"],
    }
    item["transitions"][0]["after"] = [{"assign": {"team": "novels"}}]
    # When it is imported, then the saved version holds this desk's ids
    r = admin.post("/blueprints/import", {"schema": SCHEMA, "blueprints": [item]})
    assert r.status_code == 200, r.content
    saved = BlueprintVersion.objects.get(blueprint__key="exchanges").definition
    assert saved["department"] == desk.books.pk
    assert saved["transitions"][0]["owners"]["agents"] == [desk.agent.pk]
    assert saved["transitions"][0]["owners"]["teams"] == [desk.team.pk]
    assert saved["transitions"][0]["after"] == [{"assign": {"team": desk.team.pk}}]
    # and the export names them by key again
    [exported] = admin.get("/blueprints/export").json()["blueprints"]
    assert exported["department"] == "books"
    assert (
        exported["transitions"][0]["owners"]["agents"],
        exported["transitions"][0]["owners"]["teams"],
    ) == (
        ["bruno@desk.test"],
        ["novels"],
    )
    assert exported["transitions"][0]["after"] == [{"assign": {"team": "novels"}}]
    # and a key naming nothing is refused with its path
    item["transitions"][0]["owners"]["teams"] = ["tier-9"]
    r = admin.post("/blueprints/import", {"schema": SCHEMA, "blueprints": [item]})
    assert (r.status_code, r.json()["error"]["field"], r.json()["error"]["message"]) == (
        422,
        "blueprints[0].transitions[0].owners.teams[0]",
        "no team with the slug 'tier-9' in this desk",
    )


def test_a_dry_run_reports_and_writes_nothing(desk: Any, fields: None, api: Any) -> None:
    r = api(desk.admin).client.post(
        "/api/v1/blueprints/import?dry_run=true",
        data={"schema": SCHEMA, "blueprints": [returns_definition(desk)]},
        content_type="application/json",
        headers=api(desk.admin).headers,
    )
    assert (r.status_code, r.json()["dry_run"], r.json()["counts"]["created"]) == (200, True, 1)
    assert Blueprint.objects.count() == 0


def test_an_invalid_item_refuses_the_whole_document_with_its_path(desk: Any, fields: None, api: Any) -> None:
    admin = api(desk.admin)
    bad = exchanges(desk)
    bad["transitions"][0]["to"] = "nowhere"
    r = admin.post("/blueprints/import", {"schema": SCHEMA, "blueprints": [returns_definition(desk), bad]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "blueprints[1].transitions[0].to"
    assert Blueprint.objects.count() == 0
    # a wrong schema, a repeated key, an unknown top-level key
    r = admin.post("/blueprints/import", {"schema": "sportello/rules/v1", "blueprints": []})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "schema")
    twice = {"schema": SCHEMA, "blueprints": [exchanges(desk), exchanges(desk)]}
    assert admin.post("/blueprints/import", twice).json()["error"]["field"] == "blueprints[1].key"
    assert (
        admin.post("/blueprints/import", {"schema": SCHEMA, "rules": []}).json()["error"]["field"] == "rules"
    )
    assert BlueprintVersion.objects.count() == 0


def test_import_takes_json_only(desk: Any, fields: None, api: Any) -> None:
    admin = api(desk.admin)
    r = admin.client.post(
        "/api/v1/blueprints/import", data=f"schema: {SCHEMA}\n", content_type="application/yaml",
        headers=admin.headers,
    )  # fmt: skip
    assert r.status_code == 415


def test_the_flowchart_is_svg_with_safe_headers_and_escaped_names(desk: Any, fields: None, api: Any) -> None:
    admin = api(desk.admin)
    definition = returns_definition(desk, name="Returns <script>alert(1)</script> & refunds")
    definition["states"][0]["name"] = 'Received "<b>"'
    admin.post("/blueprints", definition)
    r = api(desk.agent).client.get("/api/v1/blueprints/returns/flowchart", headers=api(desk.agent).headers)
    assert r.status_code == 200
    assert r["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert r["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert r["X-Content-Type-Options"] == "nosniff"
    svg = r.content.decode()
    assert "<script" not in svg
    assert "<b>" not in svg
    assert "Returns &lt;script&gt;alert(1)&lt;/script&gt; &amp; refunds" in svg
    root = ET.fromstring(r.content)  # noqa: S314 - our own output: it must be well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Awaiting the item", "Refunded", "Send the return label"} <= texts
    # a given version, a missing one, and light agents
    assert api(desk.agent).get("/blueprints/returns/flowchart", {"version": 1}).status_code == 200
    assert api(desk.agent).get("/blueprints/returns/flowchart", {"version": 2}).status_code == 404
    assert api(desk.light).get("/blueprints/returns/flowchart").status_code == 403


def test_who_reads_and_writes_blueprints(desk: Any, returns: Any, api: Any) -> None:
    assert [b["key"] for b in api(desk.outsider).get("/blueprints").json()["items"]] == ["returns"]
    assert api(desk.agent).get("/blueprints", {"department_id": desk.electronics.pk}).json()["items"] == []
    assert api(desk.light).get("/blueprints").status_code == 403
    assert api(desk.agent).put("/blueprints/returns", returns_definition(desk)).status_code == 403
    assert api(desk.agent).delete("/blueprints/returns").status_code == 403
    assert (
        api(desk.admin).put("/blueprints/missing", returns_definition(desk, key="missing")).status_code == 404
    )
    r = api(desk.admin).put("/blueprints/returns", returns_definition(desk, key="other"))
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")
