"""The properties form: standard fields and the department layout's custom fields, by their
labels; a department picked before saving redraws its layout; errors inline, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

HX = {"HX-Request": "true"}


def _form(ticket: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "status": ticket.status.key,
        "priority": "normal",
        "assignee": "",
        "team": "",
        "department": ticket.department_id,
        "tags": "",
        "version": ticket.version,
    }
    data.update(overrides)
    return data


def test_custom_fields_are_edited_by_their_labels_and_picklist_labels(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    ticket = open_ticket("Torn page", custom_fields={"subcategory": "childrens_books"})
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<legend>Fields of Books</legend>" in html
    assert '<label for="id_cf_subcategory">Subcategory</label>' in html
    assert '<option value="childrens_books" selected>Children&#x27;s books</option>' in html
    assert '<option value="novels">Novels</option>' in html
    assert "Phones" not in html  # Electronics' values are not Books' choices
    assert "Required to solve." in html


def test_a_light_agent_reads_the_values_by_their_labels(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    ticket = open_ticket("Torn page", custom_fields={"subcategory": "childrens_books", "gift": True})
    html = browser(desk.light).get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<dt>Subcategory</dt><dd dir="auto">Children&#x27;s books</dd>' in html
    assert '<dt>Gift wrapped</dt><dd dir="auto">Yes</dd>' in html
    assert 'id="properties-form"' not in html


def test_saving_a_custom_field_sends_only_what_changed(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    from sportello.tickets.models import TicketEvent

    ticket = open_ticket("Torn page", custom_fields={"order_number": "A-1"})
    last = TicketEvent.objects.filter(ticket=ticket).order_by("-id").values_list("id", flat=True)[0]
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/",
        _form(ticket, cf_order_number="A-1", cf_subcategory="novels", cf_gift="yes"),
        headers=HX,
    )
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"order_number": "A-1", "subcategory": "novels", "gift": True}
    changed = TicketEvent.objects.filter(ticket=ticket, field__startswith="custom_fields.", id__gt=last)
    assert sorted(changed.values_list("field", flat=True)) == [
        "custom_fields.gift",
        "custom_fields.subcategory",
    ]


def test_solving_without_the_subcategory_puts_the_error_next_to_it(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    ticket = open_ticket("Torn page")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/", _form(ticket, status="solved", priority="high"), headers=HX
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert (
        '<p class="error" id="id_cf_subcategory-error">Fill in “Subcategory” before solving this ticket.</p>'
        in html
    )
    # what was typed stays
    assert '<option value="solved" selected>' in html
    assert '<option value="high" selected>' in html
    ticket.refresh_from_db()
    assert ticket.status.key == "new"


def test_picking_another_department_redraws_its_layout_and_keeps_what_was_typed(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    ticket = open_ticket("Which reader?", custom_fields={"subcategory": "novels"})
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/properties/form/",
        _form(
            ticket,
            department=desk.electronics.pk,
            priority="urgent",
            cf_order_number="B-7",
            cf_subcategory="novels",
            cf_gift="yes",
        ),
        headers=HX,
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "<legend>Fields of Electronics</legend>" in html
    assert '<option value="phones">Phones</option>' in html
    assert '<option value="televisions">Televisions</option>' in html
    assert 'name="cf_product_code"' in html
    assert 'name="cf_gift"' not in html  # not in Electronics' layout
    assert 'name="cf_order_number" value="B-7"' in html
    assert '<option value="urgent" selected>' in html
    assert f'<option value="{desk.electronics.pk}" selected>Electronics</option>' in html
    # nothing is saved until the agent saves
    ticket.refresh_from_db()
    assert (ticket.department_id, ticket.priority, ticket.custom_fields) == (
        desk.books.pk,
        2,
        {"subcategory": "novels"},
    )


def test_moving_to_another_department_with_its_values_saves_both(
    desk: Any, open_ticket: Any, browser: Any, layouts: None
) -> None:
    ticket = open_ticket("Which reader?", custom_fields={"subcategory": "novels"})
    r = browser(desk.admin).post(
        f"/tickets/{ticket.pk}/properties/",
        _form(ticket, department=desk.electronics.pk, cf_subcategory="phones", cf_product_code="PH-1"),
        headers=HX,
    )
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert ticket.department_id == desk.electronics.pk
    assert ticket.custom_fields == {"subcategory": "phones", "product_code": "PH-1"}


def test_the_redrawn_form_is_for_agents_who_may_edit(desk: Any, open_ticket: Any, browser: Any) -> None:
    from django.test import Client

    ticket = open_ticket("Which reader?")
    url = f"/tickets/{ticket.pk}/properties/form/"
    data = _form(ticket, department=desk.electronics.pk)
    assert browser(desk.light).post(url, data, headers=HX).status_code == 403
    assert browser(desk.outsider).post(url, data, headers=HX).status_code == 404
    assert Client().post(url, data).status_code == 302


def test_assign_to_me_assigns_the_agent_and_has_its_shortcut(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Mine")
    client = browser(desk.agent)
    html = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'data-shortcut="a" data-shortcut-label="Assign to me"' in html
    assert 'data-shortcut="s"' in html
    assert 'data-shortcut-label="Set status"' in html
    r = client.post(f"/tickets/{ticket.pk}/properties/", {**_form(ticket), "assign_me": "1"}, headers=HX)
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert ticket.assignee_id == desk.agent.pk
    # once assigned, the button is gone
    assert 'name="assign_me"' not in r.content.decode()


def test_assignee_choices_are_the_departments_agents(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Who?")
    form = browser(desk.agent).get(f"/tickets/{ticket.pk}/").context["properties_form"]
    names = [label for _value, label in form.fields["assignee"].choices]
    assert names == ["Unassigned", "Ada Admin", "Bruno Books"]  # not the light agent, not Eva


def test_the_due_date_is_editable_where_the_ticket_has_one(desk: Any, open_ticket: Any, browser: Any) -> None:
    plain = open_ticket("No due date")
    dated = open_ticket("Due soon", due_at=datetime(2030, 1, 2, 10, 0, tzinfo=UTC))
    client = browser(desk.agent)
    form = client.get(f"/tickets/{plain.pk}/").context["properties_form"]
    assert "due_at" not in form.fields  # (the task form has a due time of its own)
    html = client.get(f"/tickets/{dated.pk}/").content.decode()
    assert 'type="datetime-local" name="due_at" value="2030-01-02T10:00"' in html
    r = client.post(f"/tickets/{dated.pk}/properties/", _form(dated, due_at="2030-01-03T09:30"), headers=HX)
    assert r.status_code == 200
    dated.refresh_from_db()
    assert dated.due_at.isoformat() == "2030-01-03T09:30:00+00:00"
