"""The Console's rules at a live server, on SQLite and on PostgreSQL: an admin's browser session
fires many requests at once — moves of one rule, saves of one rule from editors opened at the
same version, disables, dry runs — and each ends consistent: the order is a permutation with
distinct positions, exactly one stale save wins, a rule is disabled once, a dry run keeps
nothing."""

from __future__ import annotations

import uuid
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import post, signed_in

pytestmark = LIVE


def make_rules(live: LiveDesk, category: str, n: int) -> list[str]:
    keys = []
    for i in range(n):
        key = f"{category}-{i}"
        r = live.post(
            "/rules",
            {
                "kind": "event",
                "key": key,
                "name": f"Rule {i} of {category}",
                "category": category,
                "when": {"all": [{"field": "ticket.subject", "op": "contains", "value": key}]},
                "actions": [{"add_tags": [key]}],
            },
            as_="admin",
        )
        assert r.status == 201, r
        keys.append(key)
    return keys


def rules_of(live: LiveDesk, category: str) -> list[Any]:
    r = live.get("/rules", params={"kind": "event"}, as_="admin")
    assert r.status == 200, r
    return [item for item in r.body["items"] if item["category"] == category]


def test_one_rule_moved_down_by_many_requests_at_once_ends_last(live: LiveDesk) -> None:
    category = f"race{uuid.uuid4().hex[:6]}"
    keys = make_rules(live, category, 3)
    client = signed_in(live)
    n = 10
    replies: list[Reply] = live.race(
        n, lambda i: post(client, f"/console/rules/{keys[0]}/move/", {"direction": "down"})
    )
    assert [r.status for r in replies] == [302] * n
    rules = sorted(rules_of(live, category), key=lambda r: (r["position"], r["key"]))
    assert [r["key"] for r in rules] == [keys[1], keys[2], keys[0]]
    positions = [r["position"] for r in rules]
    assert len(set(positions)) == 3
    assert all(r["definition"]["position"] == r["position"] for r in rules)
    page = client.get(f"/console/rules/?moved={keys[0]}&dir=down")
    assert page.status_code == 200
    assert page.text.index(f'id="rule-{keys[1]}"') < page.text.index(f'id="rule-{keys[0]}"')


def test_saves_from_editors_opened_at_one_version_let_exactly_one_win(live: LiveDesk) -> None:
    category = f"race{uuid.uuid4().hex[:6]}"
    (key,) = make_rules(live, category, 1)
    client = signed_in(live)
    editor = client.get(f"/console/rules/{key}/edit/")
    assert editor.status_code == 200
    n = 8
    text = (
        "key: {key}\nname: Edit {i}\ncategory: {category}\n"
        "when: {{all: [{{field: ticket.subject, op: contains, value: {key}}}]}}\n"
        "actions: [{{add_tags: [e{i}]}}]\n"
    )  # (a condition of its own: the live server is shared, a rule for every ticket would tag theirs)
    replies: list[Reply] = live.race(
        n,
        lambda i: post(
            client,
            f"/console/rules/{key}/edit/",
            {"kind": "event", "version": "1", "yaml": text.format(key=key, i=i, category=category)},
        ),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    losers = [r for r in replies if r.status == 409]
    assert all("after you opened version 1" in r.body for r in losers)
    (rule,) = rules_of(live, category)
    assert rule["version"] == 2
    winner = rule["name"]
    assert any(f"name: {winner}" not in r.body for r in losers)  # each loser keeps its own text


def test_a_rule_disabled_by_many_requests_at_once_gets_one_version(live: LiveDesk) -> None:
    category = f"race{uuid.uuid4().hex[:6]}"
    (key,) = make_rules(live, category, 1)
    client = signed_in(live)
    n = 10
    replies = live.race(n, lambda i: post(client, f"/console/rules/{key}/toggle/", {"active": "0"}))
    assert [r.status for r in replies] == [302] * n
    (rule,) = rules_of(live, category)
    assert (rule["active"], rule["version"]) == (False, 2)
    replies = live.race(n, lambda i: post(client, f"/console/rules/{key}/toggle/", {"active": "1"}))
    assert [r.status for r in replies] == [302] * n
    (rule,) = rules_of(live, category)
    assert (rule["active"], rule["version"]) == (True, 3)


def test_dry_runs_at_once_keep_nothing(live: LiveDesk) -> None:
    key = f"dry{uuid.uuid4().hex[:6]}"
    ticket = live.open_ticket(subject=f"{key} heats up")
    client = signed_in(live)
    text = (
        f"key: {key}\nname: Dry\nwhen: {{all: [{{field: ticket.subject, op: contains, value: {key}}}]}}\n"
        "actions: [{set: {field: ticket.priority, value: urgent}}, {add_tags: [dry]}]\n"
    )
    n = 6
    replies = live.race(
        n, lambda i: post(client, "/console/rules/dry-run/", {"kind": "event", "yaml": text, "last": "20"})
    )
    assert [r.status for r in replies] == [200] * n
    assert all("Would have matched 1 of the last" in r.body for r in replies)
    after = live.get(f"/tickets/{ticket['id']}", as_="admin")
    assert after.status == 200
    assert after.body["priority"] == ticket["priority"]
    assert "dry" not in after.body["tags"]
    assert live.get(f"/rules/{key}", as_="admin").status == 404


def test_saves_from_builders_opened_at_one_version_let_exactly_one_win(live: LiveDesk) -> None:
    """Each editor changes the rule in its builder (a tag of its own) and saves before the YAML
    was rewritten: the save applies its builder's change; one wins, the others are told and keep
    their change."""
    import html

    import yaml

    from sportello.automation.models import RuleKind
    from sportello.console import rule_builder
    from sportello.engine.conditions import FIELDS

    category = f"race{uuid.uuid4().hex[:6]}"
    (key,) = make_rules(live, category, 1)
    client = signed_in(live)
    editor = client.get(f"/console/rules/{key}/edit/")
    assert editor.status_code == 200
    assert 'name="bdigest"' in editor.text
    text = html.unescape(
        editor.text.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    )
    form = rule_builder.from_definition(RuleKind.EVENT, yaml.safe_load(text), FIELDS)
    inputs = {name: values[0] for name, values in rule_builder.to_post(form).items()}
    base = {"kind": "event", "version": "1", "yaml": text, "bdigest": rule_builder.digest(text), **inputs}
    n = 8
    replies: list[Reply] = live.race(
        n, lambda i: post(client, f"/console/rules/{key}/edit/", {**base, "ba-0.tags": f"b{i}"})
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (n - 1), statuses
    (rule,) = rules_of(live, category)
    assert rule["version"] == 2
    (winner,) = [i for i, r in enumerate(replies) if r.status == 302]
    assert rule["definition"]["actions"] == [{"add_tags": [f"b{winner}"]}]
    assert rule["definition"]["when"] == {
        "all": [{"field": "ticket.subject", "op": "contains", "value": key}]
    }
    for i, r in enumerate(replies):
        if i != winner:
            assert "after you opened version 1" in r.body
            assert f"add_tags: [b{i}]" in r.body  # its own change, kept


def builder_inputs(html: str) -> dict[str, str]:
    """The rule editor's builder inputs as a browser posts them (one value each: a new rule's
    builder has no multiple choice), and its YAML."""
    import re
    from html import unescape

    data: dict[str, str] = {}
    for name, value in re.findall(
        r'<input type="(?:hidden|text|number|date|url)"[^>]*?name="(b[^"]+)" value="([^"]*)"', html
    ):
        data[name] = unescape(value)
    for name, body in re.findall(r'<select id="[^"]*" name="(b[^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected>', body)
        data[name] = unescape(chosen[0]) if chosen else ""
    yaml_text = html.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    data["yaml"] = unescape(yaml_text)
    return data


def test_new_rules_named_and_keyed_in_the_builder_at_once_make_exactly_one(live: LiveDesk) -> None:
    """Many editors create a rule with one key, named in the builder's inputs (a change not yet
    written into the YAML): exactly one is created, with its inputs' name and category; the
    others are told the key is taken and keep their text."""
    category = f"race{uuid.uuid4().hex[:6]}"
    key = f"{category}-built"
    client = signed_in(live)
    editor = client.get("/console/rules/new/?kind=event")
    assert editor.status_code == 200
    inputs = builder_inputs(editor.text)
    assert "bm.key" in inputs
    n = 6

    def create(i: int) -> Reply:
        data = {
            **inputs,
            "kind": "event",
            "version": "0",
            "bm.key": key,
            "bm.name": f"Built {i}",
            "bm.category": category,
            "bm.active": "false",  # the live server is shared: this rule must not tag their tickets
        }
        return post(client, "/console/rules/new/", data)

    replies: list[Reply] = live.race(n, create)
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [422] * (n - 1), statuses
    losers = [r for r in replies if r.status == 422]
    assert all("A rule with this key exists already" in r.body for r in losers)
    (rule,) = rules_of(live, category)
    assert rule["key"] == key
    assert rule["active"] is False
    assert rule["version"] == 1
    assert rule["name"] in {f"Built {i}" for i in range(n)}
    # each loser keeps its own name in the YAML it is shown
    assert all(f"name: {rule['name']}" not in r.body for r in losers)
