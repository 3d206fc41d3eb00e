"""The Console's blueprints: the list (with each blueprint's states and tickets in it), the editor
(rows of states and transitions saved as a new version through the blueprint kind's save, its
flowchart redrawn from the draft, errors next to their fields, a save made meanwhile reported
with what was typed kept) and the dashboard. Admins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.blueprints.models import Blueprint, BlueprintVersion
from sportello.blueprints.services import blueprint_save
from workflow_setup import warranty_definition as warranty

PAGES = ["/console/blueprints/", "/console/blueprints/new/edit/", "/console/blueprints/warranty/edit/",
         "/console/blueprints/warranty/dashboard/"]  # fmt: skip


@pytest.fixture
def saved(desk: Any, now: Any) -> Blueprint:
    row, _ = blueprint_save(definition=warranty(desk), actor=desk.admin, now=now)
    return row


def form_of(desk: Any, **changes: Any) -> dict[str, Any]:
    """The editor's form for the warranty blueprint, as a browser posts it."""
    data: dict[str, Any] = {
        "version": "0",
        "key": "warranty",
        "name": "Warranty claim",
        "department": str(desk.electronics.pk),
        "priority": "0",
        "active": "on",
        "entry": "",
        "s-count": "4",
        "t-count": "3",
        "s-0-name": "Received", "s-0-key": "received", "s-0-status": "open", "s-0-initial": "on",
        "s-1-name": "Inspecting", "s-1-key": "inspecting", "s-1-status": "pending", "s-1-time_limit": "2d",
        "s-2-name": "Replaced", "s-2-key": "replaced", "s-2-status": "solved", "s-2-terminal": "on",
        "s-3-name": "Rejected", "s-3-key": "rejected", "s-3-status": "closed", "s-3-terminal": "on",
        "t-0-name": "Inspect", "t-0-from": ["s0"], "t-0-to": "s1",
        "t-1-name": "Replace", "t-1-from": ["s1"], "t-1-to": "s2", "t-1-roles": ["agent"],
        "t-1-fields": ["ticket.subject"],
        "t-2-name": "Reject", "t-2-from": ["s1"], "t-2-to": "s3",
        "action": "save",
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light", "outsider"])
def test_only_admins_see_the_blueprint_pages(
    desk: Any, browser: Any, settings: Any, saved: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    r = browser(getattr(desk, role)).get(path.replace("/new/edit/", "/new/"))
    assert r.status_code == 403


@pytest.mark.parametrize("path", [*PAGES, "/console/blueprints/new/"])
def test_the_signed_out_go_to_the_login_page(db: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_an_agent_cannot_save_or_preview(desk: Any, browser: Any, saved: Any) -> None:
    client = browser(desk.agent)
    assert client.post("/console/blueprints/new/", form_of(desk, key="other")).status_code == 403
    assert client.post("/console/blueprints/warranty/edit/", form_of(desk)).status_code == 403
    assert client.post("/console/blueprints/preview/", form_of(desk)).status_code == 403
    assert not Blueprint.objects.filter(key="other").exists()
    assert Blueprint.objects.get(key="warranty").version == 1


def test_the_list_shows_each_blueprint_with_its_figures(desk: Any, browser: Any, saved: Any) -> None:
    r = browser(desk.admin).get("/console/blueprints/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Warranty claim" in html
    assert "Electronics" in html
    (row,) = r.context["rows"]
    assert (row.states, row.active_tickets, row.entry) == (4, 0, None)
    assert 'href="/console/blueprints/warranty/dashboard/"' in html
    assert 'href="/console/blueprints/new/"' in html


def test_the_empty_list_says_what_to_do(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/blueprints/").content.decode()
    assert "No blueprint yet" in html


def test_an_admin_creates_a_blueprint_from_the_form(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/blueprints/new/", form_of(desk))
    assert r.status_code == 302
    assert r["Location"] == "/console/blueprints/warranty/edit/"
    row = Blueprint.objects.get(key="warranty")
    version = BlueprintVersion.objects.get(blueprint=row, version=1)
    assert version.created_by_id == desk.admin.pk
    d = version.definition
    assert [s["key"] for s in d["states"]] == ["received", "inspecting", "replaced", "rejected"]
    assert d["initial"] == ["received"]
    assert d["states"][1]["time_limit"] == "2d"
    replace = d["transitions"][1]
    assert (replace["key"], replace["from"], replace["to"]) == ("replace", "inspecting", "replaced")
    assert replace["owners"]["roles"] == ["agent"]
    assert replace["during"]["fields"] == [{"field": "ticket.subject", "required": True}]


def test_the_editor_shows_a_saved_blueprint_and_keeps_what_it_does_not_show(
    desk: Any, browser: Any, saved: Any
) -> None:
    client = browser(desk.admin)
    r = client.get("/console/blueprints/warranty/edit/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "<svg" in html
    assert "Inspecting" in html
    draft = r.context["draft"]
    assert draft.version == 1
    assert draft.transitions[1].fields == ["ticket.subject"]
    assert draft.transitions[1].sources == ["s1"]
    assert draft.transitions[1].to == "s2"
    # Rename a state and save: the transitions follow it; the actions and the input's rule stay.
    post = form_of(desk, version="1", **{"s-1-name": "Under inspection", "s-1-key": "inspection",
                                         "t-1-extra": draft.transitions[1].extra})  # fmt: skip
    r = client.post("/console/blueprints/warranty/edit/", post)
    assert r.status_code == 302
    d = BlueprintVersion.objects.get(blueprint__key="warranty", version=2).definition
    assert d["states"][1]["key"] == "inspection"
    assert d["transitions"][0]["to"] == "inspection"
    assert d["transitions"][1]["from"] == "inspection"
    assert d["transitions"][1]["after"] == [{"add_tags": ["replaced"]}]
    assert d["transitions"][1]["during"]["fields"] == [
        {"field": "ticket.subject", "required": True, "min_length": 3}
    ]


def test_saving_the_same_definition_writes_nothing(desk: Any, browser: Any, saved: Any) -> None:
    client = browser(desk.admin)
    draft = client.get("/console/blueprints/warranty/edit/").context["draft"]
    post = form_of(desk, version="1", **{"t-1-extra": draft.transitions[1].extra,
                                         "t-1-fields": ["ticket.subject"]})  # fmt: skip
    r = client.post("/console/blueprints/warranty/edit/", post, follow=True)
    assert Blueprint.objects.get(key="warranty").version == 1
    assert "Nothing changed" in r.content.decode()


def test_bad_input_is_shown_next_to_its_field_and_kept(desk: Any, browser: Any) -> None:
    post = form_of(desk, **{"s-1-time_limit": "two days", "t-2-to": ""})
    r = browser(desk.admin).post("/console/blueprints/new/", post)
    assert r.status_code == 422
    draft = r.context["draft"]
    assert draft.states[1].errors.get("time_limit") or draft.transitions[2].errors.get("to")
    html = r.content.decode()
    assert 'value="two days"' in html
    assert 'aria-invalid="true"' in html
    assert not Blueprint.objects.exists()


def test_a_missing_department_is_said_next_to_it(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/blueprints/new/", form_of(desk, department=""))
    assert r.status_code == 422
    assert r.context["draft"].errors["department"]
    assert 'id="bp-department-error"' in r.content.decode()


def test_an_unreadable_entry_condition_is_an_error_not_a_500(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/blueprints/new/", form_of(desk, entry="field: [unclosed"))
    assert r.status_code == 422
    assert "entry" in r.context["draft"].errors


def test_the_entry_condition_is_saved(desk: Any, browser: Any) -> None:
    entry = "field: ticket.subject\nop: contains\nvalue: warranty"
    r = browser(desk.admin).post("/console/blueprints/new/", form_of(desk, entry=entry))
    assert r.status_code == 302
    d = BlueprintVersion.objects.get(blueprint__key="warranty").definition
    assert d["entry"] == {"field": "ticket.subject", "op": "contains", "value": "warranty"}


def test_a_key_taken_already_is_refused_without_losing_the_form(desk: Any, browser: Any, saved: Any) -> None:
    r = browser(desk.admin).post("/console/blueprints/new/", form_of(desk, name="Another"))
    assert r.status_code == 409
    assert r.context["draft"].errors["key"]
    assert 'value="Another"' in r.content.decode()
    assert Blueprint.objects.get(key="warranty").name == "Warranty claim"


def test_a_stale_edit_keeps_what_was_typed_and_says_what_changed(
    desk: Any, browser: Any, saved: Any, now: Any
) -> None:
    blueprint_save(definition=warranty(desk, name="Warranty claims (v2)"), actor=desk.admin, now=now)
    client = browser(desk.admin)
    r = client.post("/console/blueprints/warranty/edit/", form_of(desk, version="1", name="Mine"))
    assert r.status_code == 409
    html = r.content.decode()
    assert "you started from version 1, it is now at version 2" in html
    assert "<code>name</code>" in html
    assert 'value="Mine"' in html
    assert r.context["draft"].version == 2
    assert Blueprint.objects.get(key="warranty").name == "Warranty claims (v2)"
    # Saving again replaces theirs.
    r = client.post("/console/blueprints/warranty/edit/", form_of(desk, version="2", name="Mine"))
    assert r.status_code == 302
    assert Blueprint.objects.get(key="warranty").version == 3


def test_rows_are_added_and_removed_without_saving(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post("/console/blueprints/new/", form_of(desk, action="add-state"))
    assert r.status_code == 200
    assert len(r.context["draft"].states) == 5
    r = client.post("/console/blueprints/new/", form_of(desk, action="remove-state-1"))
    draft = r.context["draft"]
    assert [s.name for s in draft.states] == ["Received", "Replaced", "Rejected"]
    # The transitions that named the removed row lose it; those after it follow their state.
    assert draft.transitions[0].to == ""
    assert draft.transitions[1].to == "s1"
    r = client.post("/console/blueprints/new/", form_of(desk, action="remove-transition-0"))
    assert [t.name for t in r.context["draft"].transitions] == ["Replace", "Reject"]
    r = client.post("/console/blueprints/new/", form_of(desk, action="add-transition"))
    assert len(r.context["draft"].transitions) == 4
    assert not Blueprint.objects.exists()


def test_the_preview_draws_the_draft_or_lists_its_problems(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post("/console/blueprints/preview/", form_of(desk))
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<div class="bp-chart"><svg')
    assert "<?xml" not in html
    assert "Inspecting" in html
    assert "Subject" in html
    assert "schema: sportello/blueprints/v1" in html
    r = client.post("/console/blueprints/preview/", form_of(desk, **{"t-0-to": ""}))
    html = r.content.decode()
    assert "<svg" not in html
    assert "Transition 1 “Inspect”" in html
    assert not Blueprint.objects.exists()


def test_the_dashboard_shows_the_blueprints_figures(desk: Any, browser: Any, saved: Any) -> None:
    r = browser(desk.admin).get("/console/blueprints/warranty/dashboard/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Dashboard of “Warranty claim”" in html
    assert [s["name"] for s in r.context["states"]] == ["Received", "Inspecting"]
    assert r.context["states"][1]["limit"] == "2d"


def test_an_unknown_blueprint_is_a_404(desk: Any, browser: Any, settings: Any) -> None:
    settings.DEBUG = False
    client = browser(desk.admin)
    assert client.get("/console/blueprints/nope/edit/").status_code == 404
    assert client.get("/console/blueprints/nope/dashboard/").status_code == 404


def open_in_electronics(desk: Any, now: Any, subject: str) -> Any:
    from sportello.core.actors import Via
    from sportello.tickets import services

    body = {"subject": subject, "description": "It does not turn on.", "department_id": desk.electronics.pk,
            "requester_id": desk.alice.pk}  # fmt: skip
    return services.ticket_open(principal=desk.outsider, via=Via.API, data=body, now=now).ticket


def test_tickets_in_the_process_are_counted_on_the_list_and_the_dashboard(
    desk: Any, browser: Any, saved: Any, now: Any, frozen_clock: Any
) -> None:
    from sportello.blueprints.services import TransitionRequest, blueprint_transition

    first = open_in_electronics(desk, now, "Broken phone")
    open_in_electronics(desk, now, "Broken tablet")
    blueprint_transition(actor=desk.outsider, ticket_id=first.pk, transition_key="inspect",
                         inputs=TransitionRequest(), now=now)  # fmt: skip
    client = browser(desk.admin)
    (row,) = client.get("/console/blueprints/").context["rows"]
    assert row.active_tickets == 2
    r = client.get("/console/blueprints/warranty/dashboard/")
    states = {s["name"]: (s["active"], s["overdue"]) for s in r.context["states"]}
    # Inspecting has a limit of two days; the clock reads an hour later: not over it yet.
    assert states == {"Received": (1, 0), "Inspecting": (1, 0)}
    assert r.context["transitions"] == [("Inspect", 1)]
    assert r.context["m"].active == 2


def test_a_loaded_blueprint_comes_back_from_the_editor_unchanged(desk: Any, now: Any) -> None:
    """What the editor does not show (the entry condition's details, actions, input rules, a
    note asked, escalations) goes through its rows untouched."""
    from sportello.blueprints.services import blueprint_check
    from sportello.console.blueprints import draft as drafts
    from sportello.engine.blueprints import blueprint_to_data
    from workflow_setup import returns_definition, returns_fields

    returns_fields(desk)
    definition = returns_definition(desk)
    definition["states"][1]["escalations"] = [{"after": "-1h", "actions": [{"add_tags": ["late"]}]}]
    definition["states"][1]["time_limit"] = "5d"
    row, _ = blueprint_save(definition=definition, actor=desk.admin, now=now)
    stored = BlueprintVersion.objects.get(blueprint=row).definition
    draft = drafts.from_definition(stored, version=1)
    again = blueprint_to_data(blueprint_check(definition=draft.definition(), actor=desk.admin))
    assert again == stored


def form_fields(html: str, form_id: str = "bp-form") -> dict[str, list[str]]:
    """The values a browser would submit from the form (text, hidden, checked boxes, selected
    options, text areas), by name."""
    from html.parser import HTMLParser

    class Form(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False
            self.values: dict[str, list[str]] = {}
            self.select: str | None = None
            self.area: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "form":
                self.inside = a.get("id") == form_id
            if not self.inside or tag == "button":
                return
            name = a.get("name")
            if tag == "input" and name:
                if a.get("type") in ("checkbox", "radio"):
                    if "checked" in a:
                        self.values.setdefault(name, []).append(a.get("value") or "on")
                else:
                    self.values.setdefault(name, []).append(a.get("value", ""))
            elif tag == "select":
                self.select = name
            elif tag == "option" and self.select and "selected" in a:
                self.values.setdefault(self.select, []).append(a.get("value", ""))
            elif tag == "textarea" and name:
                self.area = name
                self.values[name] = [""]

        def handle_endtag(self, tag: str) -> None:
            if tag == "form":
                self.inside = False
            elif tag == "select":
                self.select = None
            elif tag == "textarea":
                self.area = None

        def handle_data(self, data: str) -> None:
            if self.area:
                self.values[self.area][0] += data

    parser = Form()
    parser.feed(html)
    return parser.values


def test_the_editor_posted_back_as_shown_writes_nothing(desk: Any, browser: Any, now: Any) -> None:
    from workflow_setup import returns_definition, returns_fields

    returns_fields(desk)
    blueprint_save(definition=returns_definition(desk), actor=desk.admin, now=now)
    client = browser(desk.admin)
    data = form_fields(client.get("/console/blueprints/returns/edit/").content.decode())
    assert data["entry"][0].strip()
    r = client.post("/console/blueprints/returns/edit/", {**data, "action": "save"}, follow=True)
    from sportello.core.versioning import definition_diff

    v = {x.version: x.definition for x in BlueprintVersion.objects.filter(blueprint__key="returns")}
    assert definition_diff(v[1], v.get(2, v[1])) == []
    assert "Nothing changed" in r.content.decode()
    assert Blueprint.objects.get(key="returns").version == 1


def test_numbers_too_long_are_errors_not_500s(desk: Any, browser: Any) -> None:
    big = "9" * 5000
    post = form_of(desk, version=big, department=big, priority=big, **{"s-count": big, "t-1-agents": [big]})
    r = browser(desk.admin).post("/console/blueprints/new/", post)
    assert r.status_code == 422
    assert not Blueprint.objects.exists()


def test_the_demos_blueprint_opens_in_the_editor_and_comes_back_unchanged(
    desk: Any, browser: Any, now: Any
) -> None:
    from sportello.demo.service_levels import _warranty_replacement
    from sportello.tickets.fields_services import custom_field_create

    custom_field_create(actor=desk.admin, key="product_code", label="Product code", type="text")
    blueprint_save(definition=_warranty_replacement(desk.books.pk), actor=desk.admin, now=now)
    client = browser(desk.admin)
    r = client.get("/console/blueprints/warranty-replacement/edit/")
    html = r.content.decode()
    assert '<div class="bp-chart"><svg' in html
    assert "Time limit of state 2" in html
    data = form_fields(html)
    data["s-1-time_limit"] = ["3d"]
    preview = client.post("/console/blueprints/preview/", data).content.decode()
    assert "limit 3d" in preview
    data["s-1-time_limit"] = [r.context["draft"].states[1].time_limit]
    r = client.post("/console/blueprints/warranty-replacement/edit/", {**data, "action": "save"}, follow=True)
    from sportello.core.versioning import definition_diff

    rows = BlueprintVersion.objects.filter(blueprint__key="warranty-replacement")
    v = {x.version: x.definition for x in rows}
    assert definition_diff(v[1], v.get(2, v[1])) == []
    assert "Nothing changed" in r.content.decode()
