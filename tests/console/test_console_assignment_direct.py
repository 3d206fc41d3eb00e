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
