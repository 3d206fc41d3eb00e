"""The rule editor's builder as pages: drawn from the rule's YAML with records by name, one edit
per request answering the builder and the rewritten YAML, saves (and checks, dry runs) that
take a builder change not yet written into the YAML, admins only."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.http import QueryDict

from sportello.automation import services
from sportello.automation.models import Rule, RuleKind, RuleVersion
from sportello.console import rule_builder as rb
from sportello.console.rules import NEW_EVENT_RULE

HEATS_UP = """key: heats-up
name: Phone heats up
when:
  all:
    - {field: ticket.subject, op: contains, value: phone heats up}
    - any:
        - {field: ticket.channel, op: is, value: email}
        - {field: ticket.team, op: is, value: novels}
actions:
  - set: {field: ticket.priority, value: high}
  - assign: {team: novels}
"""


def inputs(html: str) -> dict[str, list[str]]:
    """The builder's inputs as a browser posts them (text inputs, hidden inputs, selected
    options, text areas), read from the page."""
    data: dict[str, list[str]] = {}
    for name, value in re.findall(
        r'<input type="(?:hidden|text|number|date|url)"[^>]*?name="([^"]+)" value="([^"]*)"', html
    ):
        data.setdefault(name, []).append(value)
    for m in re.finditer(
        r'<input type="(?:hidden|text|number|date|url)" id="[^"]*" name="([^"]+)" value="([^"]*)"', html
    ):
        data.setdefault(m.group(1), [])
    for name, body in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        data[name] = re.findall(r'<option value="([^"]*)" selected>', body)
    for name, body in re.findall(
        r'<textarea id="[^"]*" name="(b[^"]+)"[^>]*>\n?(.*?)</textarea>', html, flags=re.S
    ):
        data[name] = [body]
    from html import unescape

    return {k: [unescape(v) for v in vs] for k, vs in data.items() if k.startswith("b")}


def form_data(html: str, text: str, **extra: str) -> QueryDict:
    q = QueryDict(mutable=True)
    for name, values in inputs(html).items():
        q.setlist(name, values)
    q["yaml"] = text
    q["kind"] = "event"
    q["version"] = "1"
    for name, value in extra.items():
        q[name] = value
    return q


@pytest.fixture
def heats_up(desk: Any, now: Any) -> Rule:
    rule, _ = services.rule_save(
        kind=RuleKind.EVENT,
        definition=services.load_rules_text(HEATS_UP)
        | {
            "actions": [
                {"set": {"field": "ticket.priority", "value": "high"}},
                {"assign": {"team": desk.team.pk}},
            ],
            "when": {
                "all": [
                    {"field": "ticket.subject", "op": "contains", "value": "phone heats up"},
                    {
                        "any": [
                            {"field": "ticket.channel", "op": "is", "value": "email"},
                            {"field": "ticket.team", "op": "is", "value": desk.team.pk},
                        ]
                    },
                ]
            },
        },
        created_by=None,
        now=now,
    )
    return rule


def test_agents_cannot_use_the_builder(desk: Any, browser: Any) -> None:
    assert browser(desk.agent).post("/console/rules/builder/", {"yaml": NEW_EVENT_RULE}).status_code == 403
    from django.test import Client

    signed_out = Client().post("/console/rules/builder/", {"yaml": NEW_EVENT_RULE})
    assert signed_out.status_code == 302
    assert "/login/" in signed_out["Location"]
    assert browser(desk.admin).get("/console/rules/builder/").status_code == 405


def test_the_editor_draws_the_builder_with_records_by_name(desk: Any, browser: Any, heats_up: Rule) -> None:
    html = browser(desk.admin).get("/console/rules/heats-up/edit/").content.decode()
    assert 'id="rule-builder"' in html
    # the nested group, its join, the team picked by name, the actions' inputs
    assert 'name="bw-1.join"' in html
    assert re.search(r'name="bw-1\.join".*?<option value="any" selected>', html, flags=re.S)
    assert f'<option value="{desk.team.slug}" selected>{desk.team.name}</option>' in html
    assert 'name="ba-0.field"' in html
    assert 'name="ba-1.who"' in html
    # operators fit the field: no "is less than" for a text field
    subject_ops = re.search(r'<select id="bw-0-op".*?</select>', html, flags=re.S)
    assert subject_ops is not None
    assert 'value="contains" selected' in subject_ops.group(0)
    assert 'value="lt"' not in subject_ops.group(0)


def test_a_builder_edit_answers_the_builder_and_the_rewritten_yaml(
    desk: Any, browser: Any, heats_up: Rule
) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    text = page.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    from html import unescape

    text = unescape(text)
    data = form_data(page, text, op="add-pred:bw-1")
    data.setlist("bw-0.value", ["the phone heats up"])
    reply = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 200
    html = reply.content.decode()
    assert 'id="rule-yaml"' in html
    assert 'hx-swap-oob="true"' in html
    assert "value: the phone heats up" in html
    assert "{field: ticket.subject, op: contains, value: &#x27;&#x27;}" in html  # the new condition
    assert 'id="bw-1-2-field"' in html
    assert "autofocus" in html
    # the rule checked beside it: the new condition has no value yet
    assert 'id="rule-check" hx-swap-oob="innerHTML"' in html
    assert "Not valid: when.all[1].any[2].value: must be a non-empty string" in html
    # and beside the condition it is about, in the builder
    assert re.search(
        r'<ul class="rb-notes" id="bw-1-2-notes"><li>when\.all\[1\]\.any\[2\]\.value: must', html
    )
    # nothing saved
    assert Rule.objects.get(key="heats-up").version == 1


def test_a_yaml_typed_since_the_builder_was_drawn_draws_it_again(
    desk: Any, browser: Any, heats_up: Rule
) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    data = form_data(page, HEATS_UP.replace("phone heats up", "overheats"), op="add-pred:bw")
    html = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    ).content.decode()
    assert "The YAML was edited: the builder now shows it." in html
    assert 'value="overheats"' in html
    assert 'hx-swap-oob="true"' not in html  # the YAML is left as typed


def test_a_yaml_snippet_that_does_not_read_keeps_the_yaml_and_says_where(
    desk: Any, browser: Any, heats_up: Rule
) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    text = services.load_rules_text(HEATS_UP)
    yaml_text = rb.dump(text)
    data = form_data(page, yaml_text)
    data["bdigest"] = rb.digest(yaml_text)
    data.setlist("ba-0.type", ["yaml"])
    data.setlist("ba-0.was", ["yaml"])
    data.setlist("ba-0.yaml", ["set: [unclosed"])
    html = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    ).content.decode()
    assert "This YAML does not read" in html
    assert 'aria-invalid="true"' in html
    assert "set: [unclosed" in html  # what was typed is kept
    assert 'hx-swap-oob="true"' not in html


def test_a_rule_the_builder_cannot_show_says_so_and_stays_in_yaml(desk: Any, browser: Any) -> None:
    text = "key: odd\nname: Odd\nwhen: {all: []}\nactions: {add_tags: [x]}\n"
    data = {"yaml": text, "kind": "event", "op": "from-yaml"}
    html = browser(desk.admin).post("/console/rules/builder/", data).content.decode()
    assert "which the builder cannot show: edit it as YAML" in html
    assert 'name="bshape"' not in html
    html = browser(desk.admin).post("/console/rules/builder/", {**data, "yaml": "key: [x"}).content.decode()
    assert "The YAML does not read as a rule yet" in html


def test_saving_takes_a_builder_change_not_yet_in_the_yaml(desk: Any, browser: Any, heats_up: Rule) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    yaml_text = page.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    from html import unescape

    yaml_text = unescape(yaml_text)
    data = form_data(page, yaml_text)
    data.setlist("ba-0.value", ["urgent"])  # changed, then "Save" before the YAML was rewritten
    reply = client.post(
        "/console/rules/heats-up/edit/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 302
    saved = RuleVersion.objects.get(rule=heats_up, version=2).definition
    assert saved["actions"][0] == {"set": {"field": "ticket.priority", "value": "urgent"}}
    assert saved["when"] == RuleVersion.objects.get(rule=heats_up, version=1).definition["when"]


def test_a_stale_save_from_the_builder_keeps_the_builder_change(
    desk: Any, browser: Any, heats_up: Rule, now: Any
) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    yaml_text = page.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    from html import unescape

    yaml_text = unescape(yaml_text)
    services.rule_deactivate(key="heats-up", created_by=desk.agent, now=now)  # someone else saves
    data = form_data(page, yaml_text)
    data.setlist("ba-0.value", ["urgent"])
    reply = client.post(
        "/console/rules/heats-up/edit/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 409
    html = reply.content.decode()
    assert "set: {field: ticket.priority, value: urgent}" in html
    assert 'name="ba-0.value"' in html
    assert '<option value="urgent" selected>' in html
    assert Rule.objects.get(key="heats-up").version == 2


def test_check_draws_the_builder_again_from_the_yaml(desk: Any, browser: Any) -> None:
    text = NEW_EVENT_RULE.replace(
        "ticket.channel, op: is, value: email", "ticket.subject, op: contains, value: refund"
    )
    html = browser(desk.admin).post("/console/rules/check/", {"yaml": text, "kind": "event"}).content.decode()
    assert 'id="rule-builder"' in html
    assert 'hx-swap-oob="outerHTML"' in html
    assert 'name="bw-0.value" value="refund"' in html
    assert "Valid, and no warnings." in html


def test_an_invalid_rule_saved_from_the_builder_comes_back_with_the_change_kept(
    desk: Any, browser: Any, heats_up: Rule
) -> None:
    client = browser(desk.admin)
    page = client.get("/console/rules/heats-up/edit/").content.decode()
    yaml_text = unescape(page.split('id="rule-yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])
    data = form_data(page, yaml_text)
    data.setlist("bw-0.value", [""])  # emptied in the builder, then "Save"
    reply = client.post(
        "/console/rules/heats-up/edit/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    )
    assert reply.status_code == 422
    html = reply.content.decode()
    assert "when.all[0].value: must be a non-empty string" in html
    assert "{field: ticket.subject, op: contains, value: &#x27;&#x27;}" in html  # the YAML, as changed
    assert 'name="bw-0.value" value=""' in html  # and the builder drawn from it
    assert '<ul class="rb-notes" id="bw-0-notes">' in html  # the error beside the condition
    assert Rule.objects.get(key="heats-up").version == 1


def test_a_time_rule_gets_a_step_from_the_builder(desk: Any, browser: Any) -> None:
    from sportello.console.rules import NEW_TIME_RULE

    client = browser(desk.admin)
    page = client.get("/console/rules/new/?kind=time").content.decode()
    assert 'name="bs-0.after" value="72h"' in page
    data = form_data(page, NEW_TIME_RULE, op="add-step")
    data["kind"] = "time"
    html = client.post(
        "/console/rules/builder/", data.urlencode(), content_type="application/x-www-form-urlencoded"
    ).content.decode()
    assert 'id="bs-1-after"' in html
    assert "- after: 24h" in html
    # a time rule is offered no "changed" operators
    assert 'value="changed_to"' not in html


def test_check_names_records_and_options_as_the_desk_does(desk: Any, browser: Any, layouts: None) -> None:
    text = """key: names
name: Names
when:
  all:
    - {field: ticket.status, op: is, value: pending}
    - {field: ticket.custom.subcategory, op: is, value: childrens_books}
    - {field: message.body, op: contains, value: broken}
actions:
  - set: {field: ticket.priority, value: urgent}
  - assign: {agent: bruno@desk.test}
  - assign: {department: books}
  - assign: {team: novels}
"""
    html = unescape(
        browser(desk.admin).post("/console/rules/check/", {"kind": "event", "yaml": text}).content.decode()
    )
    assert "Status is Pending" in html
    assert "Subcategory is Children's books" in html
    assert "Message body contains broken" in html
    assert "Set Priority to Urgent" in html
    assert "Assign to agent Bruno Books" in html
    assert "Move to department Books" in html
    assert "Assign to team Novels" in html
    assert "Message text" not in html


def test_the_yaml_wraps_its_long_lines(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/rules/new/").content.decode()
    textarea = re.search(r'<textarea id="rule-yaml"[^>]*>', html)
    assert textarea is not None
    assert 'wrap="soft"' in textarea.group(0)
    assert 'wrap="off"' not in html
