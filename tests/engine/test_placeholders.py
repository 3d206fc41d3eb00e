"""Placeholders in messages: sandboxed rendering over plain dicts, checks and lint names.
Pure Python: no database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.placeholders import (
    OUTPUT_MAX,
    TEMPLATE_MAX,
    check_template,
    context_from_facts,
    placeholders_of,
    render,
)
from sportello.engine.schema import RuleSchemaError

FACTS = {
    "ticket.number": 1042,
    "ticket.subject": "Phone <heats> up",
    "ticket.tags": frozenset({"vip", "hardware"}),
    "ticket.custom.order_id": "A-77",
    "ticket.team": None,
    "requester.name": "Ann O'Neil & Co",
}
AGENT = {"agent": {"name": "Caterina", "email": "caterina@example.com"}}


@pytest.fixture
def context() -> dict[str, Any]:
    return context_from_facts(FACTS, AGENT)


def test_context_from_facts_nests_dotted_paths_and_merges_extra() -> None:
    assert context_from_facts(FACTS, AGENT) == {
        "ticket": {
            "number": 1042,
            "subject": "Phone <heats> up",
            "tags": ["hardware", "vip"],
            "custom": {"order_id": "A-77"},
            "team": None,
        },
        "requester": {"name": "Ann O'Neil & Co"},
        "agent": {"name": "Caterina", "email": "caterina@example.com"},
    }


def test_context_extra_merges_into_existing_branches_and_wins() -> None:
    context = context_from_facts(
        {"ticket.number": 1, "ticket.subject": "s"}, {"ticket": {"number": 2, "url": "u"}}
    )
    assert context == {"ticket": {"number": 2, "subject": "s", "url": "u"}}


def test_context_skips_a_fact_whose_path_runs_through_a_value() -> None:
    assert context_from_facts({"ticket": 5, "ticket.number": 7}) == {"ticket": 5}


def test_render_fills_placeholders_as_plain_text(context: dict[str, Any]) -> None:
    template = (
        "#{{ ticket.number }} {{ ticket.subject }} for {{ requester.name }}, "
        "order {{ ticket.custom.order_id }}"
    )
    assert render(template, context) == "#1042 Phone <heats> up for Ann O'Neil & Co, order A-77"


def test_render_html_escapes_inserted_values_only(context: dict[str, Any]) -> None:
    rendered = render("<p>{{ ticket.subject }} - {{ requester.name }}</p>", context, html=True)
    assert rendered == "<p>Phone &lt;heats&gt; up - Ann O&#39;Neil &amp; Co</p>"


def test_none_renders_empty_and_lists_join_with_commas(context: dict[str, Any]) -> None:
    assert render("[{{ ticket.team }}] {{ ticket.tags }}", context) == "[] hardware, vip"


@pytest.mark.parametrize(
    "template",
    [
        "{{ nobody }}",
        "{{ ticket.custom.missing }}",
        "{{ ticket.custom.missing.deeper.still }}",
        "{{ ticket['custom']['nope'] }}",
        "{{ nobody() }}",
        "{{ nobody | upper }}",
    ],
)
def test_unknown_names_render_empty(context: dict[str, Any], template: str) -> None:
    assert render("<" + template + ">", context) == "<>"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ range(10) }}",
        "{{ ticket.__class__ }}",
        "{{ ticket.items() }}",
        "{{ ticket._private }}",
        "{{ ticket.subject.upper() }}",
        "{{ self }}",
        "{{ config }}",
        "{{ 'a' * 1000000000 }}",
        "{{ 9 ** 9999999 }}",
        "{{ 1 / 0 }}",
        "{{ '%999999999d' % 1 }}",
    ],
)
def test_sandbox_escapes_render_empty(context: dict[str, Any], template: str) -> None:
    # given a template that tries to reach Python internals or to blow up, it renders empty
    assert render("<" + template + ">", context) == "<>"


def test_private_keys_of_the_context_are_not_reachable() -> None:
    assert render("{{ ticket._secret }}|{{ ticket['_secret'] }}", {"ticket": {"_secret": "x"}}) == "|"


def test_loops_conditions_and_filters_work(context: dict[str, Any]) -> None:
    template = (
        "{% for tag in ticket.tags %}{{ loop.index }}.{{ tag | upper }} {% endfor %}"
        "{% if ticket.number > 1000 %}big{% endif %}{% if ticket.nope > 3 %}never{% endif %}"
        "|{{ requester.name | default('friend') }}|{{ ticket.nope | default('friend') }}|{{ 6 * 7 }}"
    )
    assert render(template, context) == "1.HARDWARE 2.VIP big|Ann O'Neil & Co|friend|42"


def test_output_is_cut_at_the_bound() -> None:
    template = "{% for a in xs %}{% for b in xs %}{{ long }}{% endfor %}{% endfor %}"
    rendered = render(template, {"xs": list(range(100)), "long": "x" * 1000})
    assert len(rendered) == OUTPUT_MAX


def test_render_of_an_invalid_template_returns_its_text() -> None:
    assert render("Hello {{ ticket.number ", {"ticket": {"number": 1}}) == "Hello {{ ticket.number "


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hello {{ ticket.number ", "is not a valid template (line 1)"),
        ("{% if x %}open", "is not a valid template"),
        ("{% include 'other' %}", "must not use 'include'"),
        ("{% extends 'base' %}", "must not use 'extends'"),
        ("{% import 'm' as m %}", "must not use 'import'"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "must not use 'macro'"),
        ("{{ x | center(1000000000) }}", "unknown filter 'center'"),
        ("{{ x | format(1) }}", "unknown filter 'format'"),
        ("x" * (TEMPLATE_MAX + 1), f"at most {TEMPLATE_MAX}"),
    ],
)
def test_check_template_raises_with_the_path(template: str, message: str) -> None:
    with pytest.raises(RuleSchemaError) as info:
        check_template(template, path="actions[2].notify.body")
    assert info.value.path == "actions[2].notify.body"
    assert message in info.value.message


def test_check_template_accepts_a_good_template() -> None:
    check_template("Hi {{ requester.name | default('there') }}, #{{ ticket.number }}", path="body")


def test_placeholders_of_lists_dotted_names_without_locals() -> None:
    template = (
        "{{ ticket.number }} {{ ticket.custom.order_id | upper }} {{ ticket['custom']['size'] }}"
        "{% for t in ticket.tags %}{{ t }}{{ loop.index }}{% endfor %}{% set x = requester.name %}{{ x }}"
        "{% if organization.vip %}{{ agent.name }}{% endif %}"
    )
    assert placeholders_of(template) == {
        "ticket.number",
        "ticket.custom.order_id",
        "ticket.custom.size",
        "ticket.tags",
        "requester.name",
        "organization.vip",
        "agent.name",
    }


def test_placeholders_of_an_invalid_template_is_empty() -> None:
    assert placeholders_of("{{ ticket.number ") == set()


@given(template=st.text(max_size=60), value=st.text(max_size=20))
def test_render_never_raises(template: str, value: str) -> None:
    rendered = render(template, {"ticket": {"subject": value}})
    assert isinstance(rendered, str)
    assert len(rendered) <= OUTPUT_MAX


@given(value=st.text(max_size=30))
def test_values_are_inserted_verbatim_in_text_mode(value: str) -> None:
    assert render("{{ ticket.subject }}", {"ticket": {"subject": value}}) == value
