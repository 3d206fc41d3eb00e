"""The builder's inputs for the rule itself (name, key of a new rule, category or anchor,
enabled), kept in step with the YAML like the condition and the actions."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from django.http import QueryDict

from sportello.automation.models import Rule, RuleKind
from sportello.console import rule_builder as rb
from sportello.console.rules import NEW_EVENT_RULE, NEW_TIME_RULE


def test_inputs_say_the_rules_own_keys_with_defaults_shown() -> None:
    choices = rb.Choices(statuses=[("pending", "Pending")])
    event = rb.meta_inputs(RuleKind.EVENT, {"key": "k", "name": "N"}, choices, new=True)
    assert [(m.name, m.value) for m in event] == [
        ("bm.key", "k"),
        ("bm.name", "N"),
        ("bm.category", "default"),
        ("bm.active", "true"),
    ]
    # a saved rule's key does not change: no input for it
    saved = rb.meta_inputs(RuleKind.EVENT, {"key": "k", "name": "N", "active": False}, choices, new=False)
    assert [(m.name, m.value) for m in saved] == [
        ("bm.name", "N"),
        ("bm.category", "default"),
        ("bm.active", "false"),
    ]
    time = rb.meta_inputs(RuleKind.TIME, {"key": "t", "name": "T", "anchor": "created"}, choices, new=True)
    anchor = next(m for m in time if m.key == "anchor")
    assert anchor.value == "created"
    assert ("status_entered:pending", "the ticket entered Pending") in (anchor.options or [])
    # a value an input cannot hold is left to the YAML
    odd = rb.meta_inputs(RuleKind.EVENT, {"key": "k", "name": 12, "active": "yes"}, choices, new=True)
    assert [m.key for m in odd] == ["key", "category"]


def test_changes_keep_places_and_leave_defaults_out() -> None:
    rule = {"key": "k", "name": "N", "when": {"all": []}, "actions": []}
    post = {"bm.name": " Phone heats up ", "bm.category": "routing", "bm.active": "false"}
    changes = rb.meta_changes(RuleKind.EVENT, rule, post, new=True)
    assert changes == {"name": "Phone heats up", "category": "routing", "active": False}
    merged = rb.with_meta(rule, changes)
    assert list(merged) == ["key", "name", "category", "active", "when", "actions"]
    assert merged["name"] == "Phone heats up"
    # back to the defaults: the keys are left out
    back = rb.meta_changes(RuleKind.EVENT, merged, {"bm.category": "default", "bm.active": "true"}, new=True)
    assert back == {"category": None, "active": None}
    assert list(rb.with_meta(merged, back)) == ["key", "name", "when", "actions"]
    # inputs not posted, or saying what the rule says, change nothing
    assert rb.meta_changes(RuleKind.EVENT, rule, {}, new=True) == {}
    assert rb.meta_changes(RuleKind.EVENT, rule, {"bm.name": "N", "bm.category": "default"}, new=True) == {}
    # an emptied name is left out: the check then says the name is missing
    assert rb.meta_changes(RuleKind.EVENT, rule, {"bm.name": "  "}, new=True) == {"name": None}
    # a saved rule's key does not change
    assert rb.meta_changes(RuleKind.EVENT, rule, {"bm.key": "other"}, new=False) == {}


def inputs(html: str) -> dict[str, list[str]]:
    """The builder's inputs as a browser posts them (text and hidden inputs, selected options,
    text areas), read from the page."""
    data: dict[str, list[str]] = {}
    for name, value in re.findall(
        r'<input type="(?:hidden|text|number|date|url)"[^>]*?name="([^"]+)" value="([^"]*)"', html
    ):
        data.setdefault(name, []).append(value)
    for name, body in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        data[name] = re.findall(r'<option value="([^"]*)" selected>', body)
    for name, body in re.findall(
        r'<textarea id="[^"]*" name="(b[^"]+)"[^>]*>\n?(.*?)</textarea>', html, flags=re.S
    ):
        data[name] = [body]
    return {k: [unescape(v) for v in vs] for k, vs in data.items() if k.startswith("b")}


def builder_post(html: str, text: str, **extra: str) -> QueryDict:
    q = QueryDict(mutable=True)
    for name, values in inputs(html).items():
        q.setlist(name, values)
    q["yaml"] = text
    q["kind"] = "event"
    q["version"] = "0"
    for name, value in extra.items():
        q[name] = value
    return q


def yaml_of(html: str) -> str:
    return unescape(html.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])


def test_a_new_rule_is_named_and_keyed_in_the_builder_then_saved(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/new/").content.decode()
    assert 'name="bm.key"' in page
    assert 'name="bm.name"' in page
    assert re.search(r'<select id="bm-active" name="bm.active">.*?<option value="true" selected>', page, re.S)
    data = builder_post(page, NEW_EVENT_RULE)
    data["bm.key"] = "phone-heat"
    data["bm.name"] = "Phone heats up"
    data["bm.category"] = "routing"
    reply = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 200
    html = reply.content.decode()
    text = yaml_of(html)
    assert text.startswith("key: phone-heat\nname: Phone heats up\ncategory: routing\nwhen:")
    assert 'value="Phone heats up"' in html
    # saved straight from the inputs (a change not yet written into the YAML is taken too)
    data = builder_post(html, text)
    data["bm.active"] = "false"
    saved = client.post(
        "/console/rules/new/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert saved.status_code == 302
    rule = Rule.objects.get(key="phone-heat")
    assert (rule.name, rule.category, rule.active) == ("Phone heats up", "routing", False)


def test_a_saved_rule_has_no_key_input_and_keeps_its_key(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation import services

    services.rule_save(
        kind=RuleKind.EVENT,
        definition=services.load_rules_text(NEW_EVENT_RULE) | {"key": "kept", "name": "Kept"},
        created_by=None,
        now=now,
    )
    client = browser(desk.admin)
    page = client.get("/console/rules/kept/edit/").content.decode()
    assert 'name="bm.key"' not in page
    assert 'id="bm-name"' in page
    text = yaml_of(page)
    data = builder_post(page, text, version="1")
    data["bm.name"] = "Kept, renamed"
    data["bm.key"] = "other"  # posted by hand: ignored for a saved rule
    reply = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    text = yaml_of(reply.content.decode())
    assert "key: kept\nname: Kept, renamed\n" in text


def test_a_time_rules_anchor_is_picked_in_the_builder(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/new/?kind=time").content.decode()
    assert re.search(
        r'<select id="bm-anchor" name="bm.anchor">.*?<option value="last_customer_message" selected>',
        page,
        re.S,
    )
    assert 'name="bm.category"' not in page
    data = builder_post(page, NEW_TIME_RULE, kind="time")
    data["bm.anchor"] = "status_entered:pending"
    reply = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert "anchor: status_entered:pending\n" in yaml_of(reply.content.decode())
