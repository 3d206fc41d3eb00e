"""The Console's direct assignment: admins only; a condition and an agent or a team saved as an
ordinary event rule through the rules service (listed here and by the rules API); new tickets that
match are assigned, the first matching rule wins, a ticket with an agent keeps them; bad input
shown by its field; rules turned off and on again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.automation import services
from sportello.automation.models import Rule, RuleVersion


def form(**over: Any) -> dict[str, Any]:
    data = {"condition": "channel", "channel": "chat", "target": "agent", "name": ""}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def people(desk: Any) -> dict[str, Any]:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create

    def agent(name: str) -> Any:
        return agent_create(
            email=f"{name.lower()}@desk.test", name=name, role=Role.AGENT, departments=[desk.books]
        )

    return {"caterina": agent("Caterina"), "miriam": agent("Miriam"), "adebayo": agent("Adebayo")}


@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(desk: Any, browser: Any, settings: Any, role: str) -> None:
    settings.DEBUG = False
    client = browser(getattr(desk, role))
    assert client.get("/console/direct-assignment/").status_code == 403
    assert client.post("/console/direct-assignment/", form(agent=str(desk.agent.pk))).status_code == 403
    assert client.post("/console/direct-assignment/x/active/", {"active": "0"}).status_code == 403
    assert not Rule.objects.exists()


def test_the_signed_out_go_to_the_login_page(db: Any) -> None:
    r = Client().get("/console/direct-assignment/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/console/direct-assignment/"


def test_an_empty_page_says_what_to_do(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/direct-assignment/").content.decode()
    assert "No direct assignment yet." in html


def test_the_articles_direct_assignments_route_new_tickets(
    desk: Any, browser: Any, people: dict[str, Any], open_ticket: Any, api: Any
) -> None:
    client = browser(desk.admin)
    caterina, miriam, adebayo = people["caterina"], people["miriam"], people["adebayo"]
    for data in (
        form(agent=str(caterina.pk)),
        form(condition="subject", text="XT372", agent=str(miriam.pk)),
        form(condition="text", text="refund", agent=str(adebayo.pk), name="Refunds to Adebayo"),
        form(condition="domain", text="@Acme.test", target="team", team=str(desk.team.pk)),
    ):
        r = client.post("/console/direct-assignment/", data)
        assert r.status_code == 302, r.content.decode()[:2000]
    rules = list(services.direct_rules())
    assert [r.name for r in rules] == [
        "Chat → Caterina",
        "“XT372” → Miriam",
        "Refunds to Adebayo",
        "“acme.test” → Novels (Books)",
    ]
    assert [r.key for r in rules] == [
        "direct-chat-caterina",
        "direct-xt372-miriam",
        "direct-refunds-to-adebayo",
        "direct-acmetest-novels-books",
    ]
    assert [r.position for r in rules] == [10, 20, 30, 40]
    assert RuleVersion.objects.get(rule=rules[0]).created_by == desk.admin
    # ordinary event rules: the rules API lists them
    listed = api(desk.admin).get("/rules").json()["items"]
    assert {i["key"] for i in listed} >= {r.key for r in rules}
    # the page lists them in words
    html = client.get("/console/direct-assignment/").content.decode()
    assert "Channel is Chat" in html
    assert "Subject contains “XT372”" in html
    assert "Subject or description contains “refund”" in html
    assert "Requester&#x27;s domain is acme.test" in html
    assert "Team Novels" in html
    # new tickets are routed; the first matching rule wins
    chat = open_ticket("Hello", channel="chat", requester=desk.bob)
    product = open_ticket("My XT372 is broken", requester=desk.bob)
    refund = open_ticket("Money back", description="I want a REFUND", requester=desk.bob)
    both = open_ticket("Refund for XT372", channel="chat", requester=desk.bob)
    acme = open_ticket("A question", requester=desk.alice)
    other = open_ticket("A question", requester=desk.bob)
    assert chat.assignee_id == caterina.pk
    assert product.assignee_id == miriam.pk
    assert refund.assignee_id == adebayo.pk
    assert both.assignee_id == caterina.pk
    assert (acme.assignee_id, acme.team_id) == (None, desk.team.pk)
    assert other.assignee_id is None
    # a ticket opened with an agent keeps them
    kept = open_ticket("Chat", channel="chat", requester=desk.bob, assignee_id=desk.agent.pk)
    assert kept.assignee_id == desk.agent.pk


def test_the_same_name_twice_makes_two_rules(desk: Any, browser: Any, people: dict[str, Any]) -> None:
    client = browser(desk.admin)
    for _i in range(2):
        assert (
            client.post("/console/direct-assignment/", form(agent=str(people["caterina"].pk))).status_code
            == 302
        )
    assert [r.key for r in services.direct_rules()] == ["direct-chat-caterina", "direct-chat-caterina-2"]


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"channel": ""}, "channel", "Choose a channel."),
        ({"channel": "pigeon"}, "channel", "Select a valid choice."),
        ({"condition": "subject", "text": "  "}, "text", "Type the words to look for."),
        ({"condition": "domain"}, "text", "Type a domain, such as example.com."),
        ({"condition": "department"}, "department", "Choose a department."),
        ({"agent": ""}, "agent", "Choose the agent who gets these tickets."),
        ({"target": "team"}, "team", "Choose the team that gets these tickets."),
        ({"agent": "lia"}, "agent", "Select a valid choice."),
    ],
)
def test_bad_input_is_shown_by_its_field_and_nothing_is_lost(
    desk: Any, browser: Any, people: dict[str, Any], over: dict[str, Any], field: str, message: str
) -> None:
    data = form(name="Typed name", agent=str(people["miriam"].pk))
    data.update(over)
    r = browser(desk.admin).post("/console/direct-assignment/", data)
    assert r.status_code == 422
    html = r.content.decode()
    error = html[html.index(f'id="id_{field}-error"') :].split("</p>")[0]
    assert message in error
    assert 'value="Typed name"' in html
    assert not Rule.objects.exists()


def test_a_light_agent_is_not_offered(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/direct-assignment/", form(agent=str(desk.light.pk)))
    assert r.status_code == 422
    assert not Rule.objects.exists()


def test_a_rule_turned_off_and_on_again(
    desk: Any, browser: Any, people: dict[str, Any], open_ticket: Any
) -> None:
    client = browser(desk.admin)
    client.post("/console/direct-assignment/", form(agent=str(people["caterina"].pk)))
    r = client.post("/console/direct-assignment/direct-chat-caterina/active/", {"active": "0"})
    assert r.status_code == 302
    rule = Rule.objects.get()
    assert (rule.active, rule.version) == (False, 2)
    html = client.get("/console/direct-assignment/").content.decode()
    assert "is off: it assigns nothing until turned on" in html
    assert open_ticket("Hi", channel="chat", requester=desk.bob).assignee_id is None
    client.post("/console/direct-assignment/direct-chat-caterina/active/", {"active": "1"})
    rule.refresh_from_db()
    assert (rule.active, rule.version) == (True, 3)
    assert open_ticket("Hi", channel="chat", requester=desk.bob).assignee_id == people["caterina"].pk


def test_only_direct_assignment_rules_are_turned_off_here(desk: Any, browser: Any, now: Any) -> None:
    from sportello.automation.models import RuleKind

    services.rule_save(
        kind=RuleKind.EVENT,
        definition={"key": "other", "name": "Other", "when": {"all": []}, "actions": [{"add_tags": ["x"]}]},
        created_by=desk.admin,
        now=now,
    )
    client = browser(desk.admin)
    assert client.post("/console/direct-assignment/other/active/", {"active": "0"}).status_code == 404
    assert client.post("/console/direct-assignment/nope/active/", {"active": "0"}).status_code == 404
    assert Rule.objects.get().active


def test_a_save_lost_to_many_at_once_keeps_what_was_typed(
    desk: Any, browser: Any, people: dict[str, Any], monkeypatch: Any
) -> None:
    from sportello.core.errors import Conflict

    def busy(**kwargs: Any) -> Any:
        raise Conflict("many rules were created at once; try again")

    monkeypatch.setattr(services, "direct_rule_create", busy)
    r = browser(desk.admin).post(
        "/console/direct-assignment/", form(name="Typed name", agent=str(people["miriam"].pk))
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert "Many rules were being added at the same moment; add this one again." in html
    assert 'value="Typed name"' in html


# Conditions on a custom field: "product code is XT372 → Miriam" (the `layouts` fixture's fields).


def test_a_custom_field_condition_routes_new_tickets(
    desk: Any, layouts: None, browser: Any, people: dict[str, Any], open_ticket: Any
) -> None:
    from sportello.accounts.services import agent_update

    for name in ("miriam", "adebayo"):  # they work in Electronics, where products have codes
        agent_update(agent=people[name], actor=None, departments=[desk.electronics])
    client = browser(desk.admin)
    html = client.get("/console/direct-assignment/").content.decode()
    assert '<option value="custom">A custom field is</option>' in html
    assert 'data-options="Novels\nChildren&#x27;s books\nPhones\nTelevisions"' in html
    # given a rule on the product code, typed in another case
    r = client.post(
        "/console/direct-assignment/",
        form(
            condition="custom", custom_field="product_code", value=" xt372 ", agent=str(people["miriam"].pk)
        ),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    # and one on a picklist, chosen by the value's label
    r = client.post(
        "/console/direct-assignment/",
        form(condition="custom", custom_field="subcategory", value="phones", agent=str(people["adebayo"].pk)),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    rules = list(services.direct_rules())
    assert [r.name for r in rules] == ["Product code xt372 → Miriam", "Subcategory phones → Adebayo"]
    versions = [RuleVersion.objects.get(rule=r).definition["when"] for r in rules]
    assert versions == [
        {
            "all": [
                {"field": "ticket.custom.product_code", "op": "is", "value": "xt372"},
                {"field": "ticket.assignee", "op": "absent"},
            ]
        },
        {
            "all": [
                {"field": "ticket.custom.subcategory", "op": "is", "value": "phones"},
                {"field": "ticket.assignee", "op": "absent"},
            ]
        },
    ]
    html = client.get("/console/direct-assignment/").content.decode()
    assert "Product code is xt372" in html
    assert "Subcategory is Phones" in html
    # when tickets are opened in Electronics, then the product code and the subcategory route them
    xt = open_ticket(
        "It heats up",
        department=desk.electronics,
        requester=desk.bob,
        custom_fields={"product_code": "XT372"},
    )
    phone = open_ticket(
        "Screen", department=desk.electronics, requester=desk.bob, custom_fields={"subcategory": "phones"}
    )
    other = open_ticket(
        "Other", department=desk.electronics, requester=desk.bob, custom_fields={"product_code": "XT373"}
    )
    assert xt.assignee_id == people["miriam"].pk
    assert phone.assignee_id == people["adebayo"].pk
    assert other.assignee_id is None


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"custom_field": ""}, "custom_field", "Choose a field."),
        ({"custom_field": "gift"}, "custom_field", "Select a valid choice."),
        ({"value": "  "}, "value", "Type the value the field must have."),
        ({"custom_field": "subcategory", "value": "Radios"}, "value", "Choose one of this field's values:"),
    ],
)
def test_a_bad_custom_field_condition_is_shown_by_its_field(
    desk: Any,
    layouts: None,
    browser: Any,
    people: dict[str, Any],
    over: dict[str, Any],
    field: str,
    message: str,
) -> None:
    data = form(
        condition="custom",
        custom_field="product_code",
        value="XT372",
        name="Typed name",
        agent=str(people["miriam"].pk),
    )
    data.update(over)
    r = browser(desk.admin).post("/console/direct-assignment/", data)
    assert r.status_code == 422
    html = r.content.decode()
    error = html[html.index(f'id="id_{field}-error"') :].split("</p>")[0]
    assert message.replace("'", "&#x27;") in error
    assert 'value="Typed name"' in html
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("field_type", "typed", "stored", "error"),
    [
        ("number", "42", 42, None),
        ("number", "4.5", None, "Type a whole number, such as 42."),
        ("number", "many", None, "Type a number, such as 42."),
        ("decimal", "4,50", "4.50", None),
        ("decimal", "7.0", 7, None),
        ("date", "2026-03-31", "2026-03-31", None),
        ("date", "31/03/2026", None, "Type a date as YYYY-MM-DD, such as 2026-03-31."),
    ],
)
def test_the_value_is_read_as_the_fields_type(
    desk: Any,
    browser: Any,
    people: dict[str, Any],
    field_type: str,
    typed: str,
    stored: Any,
    error: str | None,
) -> None:
    from sportello.tickets.fields_services import custom_field_create

    custom_field_create(actor=None, key="amount", label="Amount", type=field_type)
    data = form(condition="custom", custom_field="amount", value=typed, agent=str(people["miriam"].pk))
    r = browser(desk.admin).post("/console/direct-assignment/", data)
    if error is not None:
        assert r.status_code == 422
        assert error in r.content.decode()
        assert not Rule.objects.exists()
        return
    assert r.status_code == 302, r.content.decode()[:2000]
    (test, _unassigned) = RuleVersion.objects.get().definition["when"]["all"]
    assert test == {"field": "ticket.custom.amount", "op": "is", "value": stored}


def test_without_custom_fields_the_condition_is_not_offered(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/direct-assignment/").content.decode()
    assert 'value="custom"' not in html
    assert "id_custom_field" not in html
