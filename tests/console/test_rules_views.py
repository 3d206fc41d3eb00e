"""The Console's rules: the list (fire counts, enable, disable, reorder) and the editor (save
with errors beside the YAML, stale edits, check, dry run on recent tickets)."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.automation import services
from sportello.automation.models import Rule, RuleKind, RuleVersion
from sportello.tickets.models import Ticket

HIGH_CHAT = """key: heats-up
name: Phone heats up
when:
  all:
    - {field: ticket.subject, op: contains, value: heats up}
actions:
  - set: {field: ticket.priority, value: high}
  - assign: {team: novels}
"""


def event_rule(key: str, now: Any, *, position: int = 0, tag: str = "x", active: bool = True) -> Rule:
    rule, _ = services.rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": key,
            "name": key.replace("-", " ").title(),
            "position": position,
            "active": active,
            "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": tag}]},
            "actions": [{"add_tags": [tag]}],
        },
        created_by=None,
        now=now,
    )
    return rule


def time_rule(key: str, now: Any) -> Rule:
    rule, _ = services.rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": key,
            "name": "Stale",
            "anchor": "created",
            "when": {"all": [{"field": "ticket.status_category", "op": "is", "value": "new"}]},
            "steps": [{"after": "72h", "actions": [{"add_tags": ["stale"]}]}],
        },
        created_by=None,
        now=now,
    )
    return rule


# -- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/console/rules/", "/console/rules/new/", "/console/rules/r1/edit/"],
)
def test_only_admins_see_the_rules(desk: Any, browser: Any, now: Any, url: str) -> None:
    event_rule("r1", now)
    assert browser(desk.agent).get(url).status_code == 403
    assert browser(desk.light).get(url).status_code == 403
    from django.test import Client

    signed_out = Client().get(url)
    assert signed_out.status_code == 302
    assert "/login/" in signed_out["Location"]
    assert browser(desk.admin).get(url).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/console/rules/r1/toggle/",
        "/console/rules/r1/move/",
        "/console/rules/check/",
        "/console/rules/dry-run/",
        "/console/rules/new/",
        "/console/rules/r1/edit/",
    ],
)
def test_agents_cannot_write_rules(desk: Any, browser: Any, now: Any, url: str) -> None:
    rule = event_rule("r1", now)
    reply = browser(desk.agent).post(
        url, {"active": "0", "direction": "up", "yaml": HIGH_CHAT, "kind": "event"}
    )
    assert reply.status_code == 403
    rule.refresh_from_db()
    assert (rule.version, rule.active) == (1, True)
    assert not Rule.objects.filter(key="heats-up").exists()


# -- the list ----------------------------------------------------------------------------------


def test_the_list_shows_event_and_time_rules_with_what_they_do_and_their_firings(
    desk: Any, browser: Any, now: Any, open_ticket: Any
) -> None:
    event_rule("tag-refunds", now, tag="refund")
    time_rule("stale-new", now)
    event_rule("tag-off", now, tag="off", active=False)
    open_ticket("A refund please")
    open_ticket("Another refund")
    open_ticket("Nothing to see")
    page = browser(desk.admin).get("/console/rules/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="rule-tag-refunds"' in html
    assert 'id="rule-stale-new"' in html
    assert "Add tags refund" in html
    assert "3d after the ticket was created: Add tags stale" in html
    rows = {r.rule.key: r for g in page.context["event_groups"] for r in g[1]}
    assert rows["tag-refunds"].fired == 2
    assert rows["tag-refunds"].last_fired is not None
    assert rows["tag-off"].fired == 0
    assert 'id="rule-tag-off" class="rules-off"' in html


def test_disable_and_enable_save_new_versions(desk: Any, browser: Any, now: Any) -> None:
    event_rule("r1", now)
    client = browser(desk.admin)
    reply = client.post("/console/rules/r1/toggle/", {"active": "0"})
    assert reply.status_code == 302
    rule = Rule.objects.get(key="r1")
    assert (rule.active, rule.version) == (False, 2)
    assert client.post("/console/rules/r1/toggle/", {"active": "0"}).status_code == 302
    assert Rule.objects.get(key="r1").version == 2  # already disabled: nothing written
    client.post("/console/rules/r1/toggle/", {"active": "1"})
    rule = Rule.objects.get(key="r1")
    assert (rule.active, rule.version) == (True, 3)
    assert RuleVersion.objects.get(rule=rule, version=3).definition["active"] is True
    assert RuleVersion.objects.get(rule=rule, version=3).created_by == desk.admin


def test_moving_a_rule_swaps_it_with_its_neighbour(desk: Any, browser: Any, now: Any) -> None:
    for key in ("a", "b", "c"):
        event_rule(key, now)
    client = browser(desk.admin)
    reply = client.post("/console/rules/c/move/", {"direction": "up"})
    assert reply.status_code == 302
    assert reply["Location"].endswith("?moved=c&dir=up")
    order = list(Rule.objects.order_by("position", "key").values_list("key", flat=True))
    assert order == ["a", "c", "b"]
    # the button keeps the focus after the move
    page = client.get(reply["Location"])
    assert 'value="up" autofocus' in page.content.decode()
    client.post("/console/rules/a/move/", {"direction": "up"})  # the first: stays
    client.post("/console/rules/a/move/", {"direction": "down"})
    order = list(Rule.objects.order_by("position", "key").values_list("key", flat=True))
    assert order == ["c", "a", "b"]
    assert client.post("/console/rules/a/move/", {"direction": "sideways"}).status_code == 400


# -- the editor --------------------------------------------------------------------------------


def test_a_new_rule_is_saved_from_yaml(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/new/?kind=event")
    assert page.status_code == 200
    reply = client.post("/console/rules/new/", {"kind": "event", "yaml": HIGH_CHAT, "version": "0"})
    assert reply.status_code == 302
    rule = Rule.objects.get(key="heats-up")
    assert rule.kind == RuleKind.EVENT
    definition = RuleVersion.objects.get(rule=rule, version=1).definition
    assert definition["actions"][1] == {"assign": {"team": desk.team.pk}}
    # the editor shows records by key
    page = client.get("/console/rules/heats-up/edit/")
    assert "team: novels" in page.content.decode()
    # and links to the rule's history
    history = '<a class="history-link" href="/console/history/rules/heats-up/">History</a>'
    assert history in page.content.decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key: x\nname: [unclosed", "invalid YAML at line 2"),
        (HIGH_CHAT.replace("ticket.subject", "ticket.nothing"), "when.all[0].field"),
        (HIGH_CHAT.replace("novels", "nobody"), "actions[1].assign.team"),
        ("- a list", "A rule is a mapping"),
    ],
)
def test_a_bad_rule_is_refused_beside_what_was_typed(
    desk: Any, browser: Any, text: str, expected: str
) -> None:
    reply = browser(desk.admin).post("/console/rules/new/", {"kind": "event", "yaml": text, "version": "0"})
    assert reply.status_code == 422
    html = reply.content.decode()
    assert expected in html
    from django.utils.html import escape

    assert escape(text) in html
    assert not Rule.objects.exists()


def test_a_stale_edit_keeps_the_text_and_says_what_changed(desk: Any, browser: Any, now: Any) -> None:
    event_rule("r1", now)
    client = browser(desk.admin)
    page = client.get("/console/rules/r1/edit/")
    text = page.context["text"].replace("R1", "Mine")
    # meanwhile someone else saves version 2
    event_rule("r1", now, tag="theirs")
    reply = client.post("/console/rules/r1/edit/", {"kind": "event", "yaml": text, "version": "1"})
    assert reply.status_code == 409
    html = reply.content.decode()
    assert "saved version 2 of this rule after you opened version 1" in html
    assert "theirs" in html  # what their version changed
    assert "name: Mine" in html
    assert Rule.objects.get(key="r1").version == 2
    # saving again (now knowingly over version 2) works
    reply = client.post("/console/rules/r1/edit/", {"kind": "event", "yaml": text, "version": "2"})
    assert reply.status_code == 302
    assert Rule.objects.get(key="r1").name == "Mine"


def test_the_key_of_a_saved_rule_does_not_change(desk: Any, browser: Any, now: Any) -> None:
    event_rule("r1", now)
    text = HIGH_CHAT
    reply = browser(desk.admin).post(
        "/console/rules/r1/edit/", {"kind": "event", "yaml": text, "version": "1"}
    )
    assert reply.status_code == 422
    assert not Rule.objects.filter(key="heats-up").exists()


def test_a_new_rule_with_a_taken_key_is_refused(desk: Any, browser: Any, now: Any) -> None:
    event_rule("heats-up", now)
    reply = browser(desk.admin).post(
        "/console/rules/new/", {"kind": "event", "yaml": HIGH_CHAT, "version": "0"}
    )
    assert reply.status_code == 422
    assert "exists already" in reply.content.decode()
    assert Rule.objects.get(key="heats-up").version == 1


def test_check_shows_the_rule_in_words_and_lint_warnings(desk: Any, browser: Any, now: Any) -> None:
    client = browser(desk.admin)
    reply = client.post("/console/rules/check/", {"kind": "event", "yaml": HIGH_CHAT})
    html = reply.content.decode()
    assert "Subject contains heats up" in html
    assert "Set Priority to High" in html
    assert "Assign to team Novels" in html
    assert "no warnings" in html
    # a rule that reads what it writes, with no guard: it fires again on every change
    loop = """key: loop
name: Loop
when: {all: [{field: ticket.priority, op: is, value: normal}]}
actions: [{set: {field: ticket.priority, value: normal}}]
"""
    html = client.post("/console/rules/check/", {"kind": "event", "yaml": loop}).content.decode()
    assert "Fires again on every change" in html
    html = client.post("/console/rules/check/", {"kind": "event", "yaml": "key: [x"}).content.decode()
    assert "invalid YAML" in html
    assert not Rule.objects.exists()


def test_the_dry_run_shows_matches_and_changes_and_keeps_nothing(
    desk: Any, browser: Any, open_ticket: Any
) -> None:
    hot = open_ticket("My phone heats up")
    open_ticket("A book is missing")
    open_ticket("It heats up again", priority="high")
    before = list(Ticket.objects.order_by("pk").values_list("pk", "version", "priority", "team_id"))
    client = browser(desk.admin)
    reply = client.post("/console/rules/dry-run/", {"kind": "event", "yaml": HIGH_CHAT, "last": "50"})
    assert reply.status_code == 200
    html = reply.content.decode()
    assert "Would have matched 2 of the last 3 tickets." in html
    assert f'href="/tickets/{hot.pk}/"' in html
    rows = {m.number: m for m in reply.context["matched"]}
    changes = {(c.label, c.before, c.after) for c in rows[hot.number].changes}
    assert changes == {("Priority", "Normal", "High"), ("Team", "nothing", "Novels")}
    assert after_rows() == before
    assert not Rule.objects.exists()


def after_rows() -> list[Any]:
    return list(Ticket.objects.order_by("pk").values_list("pk", "version", "priority", "team_id"))


def test_the_dry_run_refuses_a_bad_number_and_a_bad_rule(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    html = client.post(
        "/console/rules/dry-run/", {"kind": "event", "yaml": HIGH_CHAT, "last": "0"}
    ).content.decode()
    assert "from 1 to 500" in html
    html = client.post(
        "/console/rules/dry-run/", {"kind": "event", "yaml": HIGH_CHAT, "last": "x"}
    ).content.decode()
    assert "from 1 to 500" in html
    bad = HIGH_CHAT.replace("ticket.subject", "ticket.nothing")
    html = client.post(
        "/console/rules/dry-run/", {"kind": "event", "yaml": bad, "last": "5"}
    ).content.decode()
    assert "when.all[0].field" in html


def test_a_time_rule_dry_run_checks_the_condition_now(desk: Any, browser: Any, open_ticket: Any) -> None:
    open_ticket("One")
    text = """key: stale
name: Stale
anchor: created
when: {all: [{field: ticket.priority, op: is, value: normal}]}
steps:
  - after: 1h
    actions: [{add_tags: [stale]}]
"""
    reply = browser(desk.admin).post("/console/rules/dry-run/", {"kind": "time", "yaml": text, "last": "10"})
    html = reply.content.decode()
    assert "Would have matched 1 of the last 1 tickets." in html
    assert "stale" in html
    assert not Rule.objects.exists()
