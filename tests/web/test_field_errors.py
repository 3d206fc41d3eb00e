"""Inline errors are announced: in every Desk form a control with an error says so
(`aria-invalid="true"`) and names its error (and help) in `aria-describedby`, one shared way
(web.fields: the forms' renderer, the `field_aria` tag and the `web/_field_errors.html` partial)."""

from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from workflow_setup import customer_ticket, returns_blueprint, returns_fields

HX = {"HX-Request": "true"}


class _Elements(HTMLParser):
    """Every element with an id: its tag, attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, Any]] = {}
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element: dict[str, Any] = {"tag": tag, "attrs": dict(attrs), "text": ""}
        if element["attrs"].get("id"):
            self.by_id[str(element["attrs"]["id"])] = element
        if tag not in ("input", "br", "img", "meta", "link"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data


def elements(response: Any) -> dict[str, dict[str, Any]]:
    parser = _Elements()
    parser.feed(response.content.decode())
    return parser.by_id


def assert_announced(
    found: dict[str, dict[str, Any]], control_id: str, message: str, *described: str
) -> None:
    """The control is invalid and described by exactly `described`, its error holding `message`."""
    attrs = found[control_id]["attrs"]
    assert attrs.get("aria-invalid") == "true"
    assert attrs.get("aria-describedby", "").split() == list(described)
    assert all(i in found for i in described)  # each description is on the page
    assert message in " ".join(found[f"{control_id}-error"]["text"].split())


def test_the_properties_form_announces_its_field_error_and_help(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    data = {"status": "new", "priority": "normal", "assignee": "", "team": "", "tags": "x" * 81}
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/", {**data, "version": ticket.version}, headers=HX
    )
    assert r.status_code == 422
    found = elements(r)
    assert_announced(found, "id_tags", "", "id_tags-help", "id_tags-error")
    assert found["id_tags-help"]["text"].strip() == "Separate tags with commas."
    # the fields without an error are not marked
    assert "aria-invalid" not in found["id_priority"]["attrs"]


def test_the_customer_form_announces_its_field_error(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Call me")
    data = {"contact-name": "Alice Acme", "contact-phone": "1" * 41, "contact-language": "en"}
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/contact/", data, headers=HX)
    assert r.status_code == 422
    found = elements(r)
    assert_announced(found, "id_contact-phone", "", "id_contact-phone-error")
    assert "aria-invalid" not in found["id_contact-name"]["attrs"]


def test_the_composer_announces_an_empty_reply_after_its_hint(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Where is my order?")
    r = browser(desk.agent).post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": ""}, headers=HX)
    assert r.status_code == 422
    found = elements(r)
    assert_announced(found, "id_body", "This field is required.", "composer-hint", "id_body-error")


def test_the_token_form_announces_its_field_error(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post("/me/tokens/", {"name": ""})
    found = elements(r)
    assert_announced(found, "id_name", "This field is required.", "id_name-help", "id_name-error")


@pytest.fixture
def blueprint_ticket(desk: Any, now: datetime) -> Any:
    returns_fields(desk)
    returns_blueprint(desk, now)
    return customer_ticket(desk, now)


def test_a_workflow_step_announces_each_missing_input(desk: Any, browser: Any, blueprint_ticket: Any) -> None:
    ticket = blueprint_ticket
    ticket.refresh_from_db()
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/blueprint/label-sent/",
        {"version": ticket.version, "input_0": "", "note": ""},
        headers=HX,
    )
    assert r.status_code == 422
    found = elements(r)
    assert_announced(
        found,
        "bp-label-sent-input_0",
        "Fill in “Order number” to perform this step.",
        "bp-label-sent-input_0-help",
        "bp-label-sent-input_0-error",
    )
    assert_announced(
        found,
        "bp-label-sent-note",
        "Add a note to perform this step.",
        "bp-label-sent-note-help",
        "bp-label-sent-note-error",
    )
    # the error is said as it appears
    assert found["bp-label-sent-note-error"]["attrs"]["role"] == "alert"
