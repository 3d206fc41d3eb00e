"""The rules API: create, new immutable versions, deactivate, versions, errors with their path,
lint warnings at save, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation.models import Rule, RuleVersion

HIGH = {
    "kind": "event",
    "key": "vip-high",
    "name": "VIP is high priority",
    "when": {"field": "requester.vip", "op": "is", "value": True},
    "actions": [{"set": {"field": "ticket.priority", "value": "high"}}],
}


def test_admin_creates_a_rule_and_reads_it_back_normalised(desk: Any, api: Any) -> None:
    # when an admin posts an event rule
    r = api(desk.admin).post("/rules", HIGH)
    # then it is saved as version 1 with the defaults written out
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["key"], body["kind"], body["version"], body["active"], body["written"]) == (
        "vip-high",
        "event",
        1,
        True,
        True,
    )
    assert body["definition"]["category"] == "default"
    assert body["definition"]["when"] == {"field": "requester.vip", "op": "is", "value": True}
    got = api(desk.agent).get("/rules/vip-high").json()
    assert got["definition"] == body["definition"]


def test_put_writes_a_new_version_and_an_identical_put_writes_none(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    client.post("/rules", HIGH)
    # when the admin changes the priority
    changed = {**HIGH, "actions": [{"set": {"field": "ticket.priority", "value": "urgent"}}]}
    r = client.put("/rules/vip-high", changed)
    assert (r.status_code, r.json()["version"], r.json()["written"]) == (200, 2, True)
    # and sends the same definition again
    r = client.put("/rules/vip-high", changed)
    # then no third version is written
    assert (r.status_code, r.json()["version"], r.json()["written"]) == (200, 2, False)
    versions = client.get("/rules/vip-high/versions").json()["items"]
    assert [(v["version"], v["definition"]["actions"][0]["set"]["value"]) for v in versions] == [
        (2, "urgent"),
        (1, "high"),
    ]


def test_validation_error_names_the_path_of_the_bad_part(desk: Any, api: Any) -> None:
    bad = {
        **HIGH,
        "when": {
            "all": [
                {"field": "ticket.status", "op": "is", "value": "open"},
                {"field": "ticket.priority", "op": "is", "value": "high"},
                {"field": "ticket.nonsense", "op": "is", "value": 1},
            ]
        },
    }
    r = api(desk.admin).post("/rules", bad)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "when.all[2].field"
    assert r.json()["error"]["code"] == "validation_failed"
    assert Rule.objects.count() == 0


def test_a_rule_may_name_records_by_key_and_is_saved_with_their_ids(desk: Any, api: Any) -> None:
    # Given a rule naming a department by slug, a team by slug and an agent by e-mail
    rule = {
        **HIGH,
        "key": "novels",
        "when": {"field": "ticket.department", "op": "is", "value": "books"},
        "actions": [{"assign": {"team": "novels"}}, {"assign": {"agent": "bruno@desk.test"}}],
    }
    # When it is posted, then the saved definition holds the ids
    r = api(desk.admin).post("/rules", rule)
    assert r.status_code == 201, r.content
    assert r.json()["definition"]["when"]["value"] == desk.books.pk
    assert r.json()["definition"]["actions"] == [
        {"assign": {"team": desk.team.pk}},
        {"assign": {"agent": desk.agent.pk}},
    ]
    # and a key naming nothing is refused with its path, relative to the rule
    missing = {**rule, "key": "other", "actions": [{"assign": {"team": "tier-9"}}]}
    r = api(desk.admin).post("/rules", missing)
    assert (r.status_code, r.json()["error"]) == (
        422,
        {
            "code": "validation_failed",
            "message": "no team with the slug 'tier-9' in this desk",
            "field": "actions[0].assign.team",
        },
    )


def test_kind_is_required_and_keys_are_unique(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    r = client.post("/rules", {k: v for k, v in HIGH.items() if k != "kind"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "kind")
    assert client.post("/rules", HIGH).status_code == 201
    r = client.post("/rules", HIGH)
    assert (r.status_code, r.json()["error"]["field"]) == (409, "key")
    r = client.put("/rules/other-key", HIGH)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")
    r = client.put("/rules/missing", {**HIGH, "key": "missing"})
    assert r.status_code == 404


def test_delete_deactivates_with_a_new_version_and_keeps_history(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    client.post("/rules", HIGH)
    # when the admin deletes the rule
    r = client.delete("/rules/vip-high")
    # then it is inactive at version 2, and version 1 is still readable
    assert (r.status_code, r.json()["active"], r.json()["version"]) == (200, False, 2)
    assert Rule.objects.get(key="vip-high").active is False
    assert RuleVersion.objects.filter(rule__key="vip-high").count() == 2
    assert client.get("/rules").json()["items"][0]["active"] is False
    # and saving it active again revives it as version 3
    r = client.put("/rules/vip-high", {**HIGH, "active": True})
    assert (r.json()["active"], r.json()["version"]) == (True, 3)


def test_save_returns_lint_warnings_without_refusing(desk: Any, api: Any) -> None:
    client = api(desk.admin)
    client.post("/rules", HIGH)
    # when a second rule sets the same field the other way on overlapping changes
    low = {
        **HIGH,
        "key": "vip-low",
        "name": "Everything low",
        "when": {"field": "ticket.subject", "op": "present"},
        "actions": [{"set": {"field": "ticket.priority", "value": "low"}}],
    }
    r = client.post("/rules", low)
    # then it is saved, with an opposite_writes warning naming both rules
    assert r.status_code == 201
    codes = [(w["code"], w["key"]) for w in r.json()["warnings"]]
    assert ("opposite_writes", "vip-low") in codes
    assert "'vip-high'" in r.json()["warnings"][0]["message"]


def test_reserved_keys_are_refused(desk: Any, api: Any) -> None:
    r = api(desk.admin).post("/rules", {**HIGH, "key": "export"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "key")


@pytest.mark.parametrize(("role", "status"), [("agent", 200), ("light", 403), ("outsider", 200)])
def test_agents_read_rules_and_light_agents_do_not(
    as_role: Any, desk: Any, api: Any, role: str, status: int
) -> None:
    api(desk.admin).post("/rules", HIGH)
    assert as_role(role).get("/rules").status_code == status
    assert as_role(role).get("/rules/vip-high").status_code == status


@pytest.mark.parametrize("role", ["agent", "light"])
def test_only_admins_write_rules(as_role: Any, desk: Any, api: Any, role: str) -> None:
    api(desk.admin).post("/rules", HIGH)
    client = as_role(role)
    assert client.post("/rules", {**HIGH, "key": "mine"}).status_code == 403
    assert client.put("/rules/vip-high", HIGH).status_code == 403
    assert client.delete("/rules/vip-high").status_code == 403
    assert Rule.objects.get(key="vip-high").version == 1


def test_a_rule_made_change_links_to_its_rule_and_trace(desk: Any, api: Any) -> None:
    # given a rule that raises the priority of VIP requesters' tickets
    api(desk.admin).post(
        "/rules",
        {**HIGH, "when": {"field": "requester.email", "op": "is", "value": "bob@example.test"}},
    )
    # when a ticket for Bob is opened
    client = api(desk.agent)
    ticket = client.post(
        "/tickets",
        {"subject": "Hi", "description": "x", "department_id": desk.books.pk, "requester_id": desk.bob.pk},
    ).json()
    # then the event of the rule's change names the rule, its version and its trace
    events = client.get(f"/tickets/{ticket['id']}/events").json()["items"]
    by_rule = [e for e in events if e["actor_kind"] == "rule"]
    assert [(e["field"], e["new_value"], e["cause"]) for e in by_rule] == [
        ("priority", "high", "rule:vip-high@1")
    ]
    assert by_rule[0]["actor_id"] == Rule.objects.get(key="vip-high").pk
    link = f"/api/v1/tickets/{ticket['id']}/traces?change_id={by_rule[0]['change_id']}"
    assert by_rule[0]["trace_url"] == link
    traces = client.get(f"/tickets/{ticket['id']}/traces", {"change_id": by_rule[0]["change_id"]}).json()
    assert [t["trace"]["fired"] for t in traces["items"]] == [["vip-high"]]
    assert api(desk.outsider).get(f"/tickets/{ticket['id']}/traces").status_code == 404


def test_the_ticket_history_answers_why_a_rule_did_not_fire_on_any_change(desk: Any, api: Any) -> None:
    # Given a rule for urgent refunds, listening to updates only
    admin = api(desk.admin)
    refund = {"kind": "event", "key": "urgent-refund", "name": "Urgent refunds", "on": ["ticket.updated"],
              "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": "refund"},
                               {"field": "ticket.priority", "op": "is", "value": "urgent"}]},
              "actions": [{"add_tags": ["refund_urgent"]}]}  # fmt: skip
    assert admin.post("/rules", refund).status_code == 201
    # When a refund ticket is opened, then raised to high, then to urgent
    client = api(desk.agent)
    body = {"subject": "Refund please", "description": "x", "department_id": desk.books.pk,
            "requester_id": desk.bob.pk}  # fmt: skip
    ticket = client.post("/tickets", body).json()
    high = client.patch(f"/tickets/{ticket['id']}", {"version": ticket["version"], "priority": "high"}).json()
    urgent = client.patch(
        f"/tickets/{ticket['id']}", {"version": high["version"], "priority": "urgent"}
    ).json()
    assert urgent["tags"] == ["refund_urgent"]
    # Then every change has a trace saying how the rule ended on it, and why
    items = client.get(f"/tickets/{ticket['id']}/traces").json()["items"]
    assert [(t["quiet"], t["considered"]) for t in items] == [
        (True, [{"rule": "urgent-refund", "version": 1, "outcome": "skipped: event filter",
                 "failed": None, "condition": None}]),
        (True, [{"rule": "urgent-refund", "version": 1, "outcome": "not_matched", "failed": "when.all[1]",
                 "condition": {"field": "ticket.priority", "op": "is", "value": "urgent"}}]),
        (False, [{"rule": "urgent-refund", "version": 1, "outcome": "fired", "failed": None,
                  "condition": None}]),
    ]  # fmt: skip
    # and one change is asked for by its id, as its events link to it
    events = client.get(f"/tickets/{ticket['id']}/events").json()["items"]
    raised = next(e for e in events if e["field"] == "priority" and e["new_value"] == "high")
    one = client.get(f"/tickets/{ticket['id']}/traces", {"change_id": raised["change_id"]}).json()["items"]
    assert [t["considered"][0]["failed"] for t in one] == ["when.all[1]"]
