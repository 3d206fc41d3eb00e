"""The Console's macro editor: admins only; a macro created from name, owner and YAML actions;
a bad value refused beside its field with its path and the typed text kept; "Check" and
"Preview on ticket #…" of the unsaved draft (nothing written); a stale save refused (409) with
the text kept and what the other version changed; deactivating and activating keep the
history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.automation.macros import macro_create, macro_update
from sportello.automation.models import Macro, MacroVersion
from sportello.tickets.models import Message, Ticket

ACTIONS = """- set: {field: ticket.priority, value: high}
- add_tags: [needs_order]
- reply:
    body: "Hello {{ requester.name }}, what is your order number?"
"""


@pytest.fixture
def macro(desk: Any, now: Any) -> Any:
    return macro_create(
        definition={
            "key": "ask-order",
            "name": "Ask for the order number",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"add_tags": ["needs_order"]}],
        },
        actor=desk.admin,
        now=now,
    )


def form(**overrides: str) -> dict[str, str]:
    data = {
        "key": "ask-order",
        "name": "Ask for the order number",
        "available_to": "everyone",
        "actions": ACTIONS,
        "version": "0",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "path",
    ["/console/macros/new/", "/console/macros/ask-order/edit/"],
)
@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_agents_get_the_403_page(
    desk: Any, browser: Any, settings: Any, macro: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    client = browser(getattr(desk, role))
    assert client.get(path).status_code == 403
    assert client.post(path, form(version="1")).status_code == 403
    assert client.post("/console/macros/ask-order/toggle/", {"active": "0"}).status_code == 403
    assert Macro.objects.get(key="ask-order").active


def test_the_signed_out_go_to_the_login_page(db: Any) -> None:
    r = Client().get("/console/macros/new/")
    assert r.status_code == 302
    assert r["Location"] == "/login/?next=/console/macros/new/"


def test_the_new_form_offers_owners_and_an_example(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/macros/new/").content.decode()
    assert '<option value="everyone" selected>Everyone</option>' in html
    assert f'<option value="department:{desk.books.pk}">Books</option>' in html
    assert f'<option value="team:{desk.team.pk}">Novels</option>' in html
    assert f'<option value="personal:{desk.agent.pk}">Bruno Books</option>' in html
    assert "- add_tags: [needs_reply]" in html


def test_an_admin_creates_a_macro_for_a_department(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/macros/new/", form(available_to=f"department:{desk.books.pk}"))
    assert r.status_code == 302
    assert r["Location"] == "/console/macros/ask-order/"
    macro = Macro.objects.get(key="ask-order")
    assert (macro.name, macro.visibility, macro.owner_department_id, macro.version) == (
        "Ask for the order number",
        "department",
        desk.books.pk,
        1,
    )
    saved = MacroVersion.objects.get(macro=macro, version=1)
    assert saved.definition["actions"][1] == {"add_tags": ["needs_order"]}
    assert saved.created_by_id == desk.admin.pk


def test_records_are_named_by_key_in_the_actions(desk: Any, browser: Any) -> None:
    actions = "- assign: {agent: bruno@desk.test}\n- set: {field: ticket.department, value: books}\n"
    r = browser(desk.admin).post("/console/macros/new/", form(actions=actions))
    assert r.status_code == 302
    saved = MacroVersion.objects.get(macro__key="ask-order")
    assert saved.definition["actions"][0] == {"assign": {"agent": desk.agent.pk}}
    html = browser(desk.admin).get("/console/macros/ask-order/edit/").content.decode()
    assert "- assign: {agent: bruno@desk.test}" in html


@pytest.mark.parametrize(
    ("actions", "field_error"),
    [
        ("- set: {field: ticket.priority, value: huge}", "actions[0].set.value"),
        ("- add_tags: [a]\n- frobnicate: true", "actions[1]"),
        ("- assign: {agent: nobody@desk.test}", "actions[0].assign.agent"),
        ("- note: {body: one}\n- reply: {body: two}", "actions[1].reply"),
        ("- add_tags: [a", "line"),
    ],
)
def test_a_bad_action_is_refused_with_its_path_and_the_text_kept(
    desk: Any, browser: Any, actions: str, field_error: str
) -> None:
    r = browser(desk.admin).post("/console/macros/new/", form(actions=actions))
    assert r.status_code == 422
    html = r.content.decode()
    error = html[html.index('id="m-actions-error"') :].split("</p>")[0]
    assert field_error in error
    assert 'aria-invalid="true"' in html
    assert 'value="Ask for the order number"' in html
    assert not Macro.objects.exists()


def test_a_missing_name_and_a_taken_key_are_shown_by_their_fields(
    desk: Any, browser: Any, macro: Any
) -> None:
    client = browser(desk.admin)
    r = client.post("/console/macros/new/", form(key="other", name=""))
    assert r.status_code == 422
    assert 'id="m-name-error"' in r.content.decode()
    r = client.post("/console/macros/new/", form(name="Another"))
    assert r.status_code == 409
    html = r.content.decode()
    assert "A macro with this key exists already" in html
    assert 'value="Another"' in html
    assert Macro.objects.get(key="ask-order").name == "Ask for the order number"


def test_check_and_preview_of_the_draft_write_nothing(desk: Any, browser: Any, open_ticket: Any) -> None:
    ticket = open_ticket("Where is my parcel?")
    messages = Message.objects.filter(ticket=ticket).count()
    client = browser(desk.admin)
    r = client.post("/console/macros/new/", {**form(), "do": "check"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Valid: the macro can be saved." in html
    assert "Set a field, Add tags, Reply to the customer" in html
    assert "<html" not in html
    r = client.post(
        "/console/macros/new/",
        {**form(), "do": "preview", "ticket": str(ticket.number)},
        headers={"HX-Request": "true"},
    )
    html = r.content.decode()
    assert f"On #{ticket.number} Where is my parcel?" in html
    assert "High" in html
    assert "Hello Alice Acme, what is your order number?" in html
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.priority, fresh.version) == (ticket.priority, ticket.version)
    assert Message.objects.filter(ticket=ticket).count() == messages
    assert not Macro.objects.exists()


def test_without_javascript_a_preview_renders_the_whole_editor(
    desk: Any, browser: Any, open_ticket: Any
) -> None:
    ticket = open_ticket("Parcel")
    r = browser(desk.admin).post(
        "/console/macros/new/", {**form(), "do": "preview", "ticket": str(ticket.number)}
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="macro-form"' in html
    assert "Hello Alice Acme, what is your order number?" in html
    assert not Macro.objects.exists()


def test_a_check_shows_the_error_with_its_path(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/macros/new/",
        {**form(actions="- set: {field: ticket.nope, value: 1}"), "do": "check"},
        headers={"HX-Request": "true"},
    )
    html = r.content.decode()
    assert "Not valid:" in html
    assert "actions[0].set.field" in html


def test_an_edit_saves_a_new_version(desk: Any, browser: Any, macro: Any) -> None:
    client = browser(desk.admin)
    html = client.get("/console/macros/ask-order/edit/").content.decode()
    assert '<input type="hidden" name="version" value="1">' in html
    assert "- add_tags: [needs_order]" in html
    r = client.post("/console/macros/ask-order/edit/", form(version="1", name="Order number"))
    assert r.status_code == 302
    macro.refresh_from_db()
    assert (macro.name, macro.version) == ("Order number", 2)


def test_a_stale_save_is_refused_with_the_text_kept_and_their_changes(
    desk: Any, browser: Any, macro: Any, now: Any
) -> None:
    macro_update(
        key="ask-order",
        definition={
            "key": "ask-order",
            "name": "Theirs",
            "visibility": {"scope": "everyone", "ids": []},
            "actions": [{"add_tags": ["theirs"]}],
        },
        actor=desk.admin,
        now=now,
    )
    r = browser(desk.admin).post("/console/macros/ask-order/edit/", form(version="1", name="Mine"))
    assert r.status_code == 409
    html = r.content.decode()
    assert "Ada Admin saved version 2 of this macro after you opened version 1." in html
    assert "name: Ask for the order number → Theirs" in html
    assert 'value="Mine"' in html
    assert "body: &quot;Hello {{ requester.name }}, what is your order number?&quot;" in html
    assert '<input type="hidden" name="version" value="2">' in html
    macro.refresh_from_db()
    assert (macro.name, macro.version) == ("Theirs", 2)


def test_deactivate_and_activate_keep_the_history(
    desk: Any, browser: Any, macro: Any, open_ticket: Any
) -> None:
    ticket = open_ticket("Parcel")
    client = browser(desk.admin)
    r = client.post("/console/macros/ask-order/toggle/", {"active": "0"})
    assert r.status_code == 302
    macro.refresh_from_db()
    assert (macro.active, macro.version) == (False, 1)
    html = client.get("/console/macros/").content.decode()
    row = html[html.index('id="macro-ask-order"') :].split("</tr>")[0]
    assert "Deactivated" in row
    page = client.get(f"/console/macros/ask-order/?ticket={ticket.number}").content.decode()
    assert "Agents do not see this macro." in page
    assert "This macro is deactivated: activate it to preview it." in page
    assert client.post("/console/macros/ask-order/edit/", form(version="1")).status_code == 422
    r = client.post("/console/macros/ask-order/toggle/", {"active": "1"})
    assert r.status_code == 302
    macro.refresh_from_db()
    assert (macro.active, macro.version) == (True, 2)
    assert MacroVersion.objects.filter(macro=macro).count() == 2


def test_an_unknown_macro_is_404(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert client.get("/console/macros/nope/edit/").status_code == 404
    assert client.post("/console/macros/nope/toggle/", {"active": "0"}).status_code == 404
