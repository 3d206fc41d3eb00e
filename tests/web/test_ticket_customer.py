"""The customer panel: the requester (edited inline through `contact_update`), the
organization, the requester's other open and earlier tickets, and the satisfaction empty state."""

from __future__ import annotations

from typing import Any

HX = {"HX-Request": "true"}


def _contact_form(contact: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "contact-name": contact.name,
        "contact-phone": contact.phone,
        "contact-language": contact.language,
    }
    if contact.vip:
        data["contact-vip"] = "on"
    data.update(overrides)
    return data


def test_the_panel_shows_the_requester_and_the_organization(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.contacts.services import contact_update

    contact_update(contact=desk.alice, actor=None, phone="+44 20 7946 0001", organization=desk.acme)
    ticket = open_ticket("Where is my order?")
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<a href="mailto:alice@acme.test"><bdi>alice@acme.test</bdi></a>' in html
    assert '<a href="tel:+44 20 7946 0001"><bdi>+44 20 7946 0001</bdi></a>' in html
    assert "<dt>Language</dt><dd>English</dd>" in html
    assert '<p><bdi>Acme</bdi> <span class="badge vip">VIP</span></p>' in html
    assert "<bdi>acme.test</bdi>" in html
    assert "No ratings from this customer yet." in html


def test_other_open_and_earlier_tickets_are_listed_apart_most_recent_first(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from sportello.core.actors import Via
    from sportello.tickets.services import ticket_update

    older = [open_ticket(f"Earlier {i}", minutes_ago=60 - i) for i in range(6)]
    for t in older:
        ticket_update(
            principal=desk.admin, ticket_id=t.pk, via=Via.WEB,
            data={"status": "solved", "version": t.version}, now=t.created_at,
        )  # fmt: skip
    still_open = open_ticket("Still open", minutes_ago=5)
    elsewhere = open_ticket("Broken TV", department=desk.electronics, minutes_ago=4)
    someone_else = open_ticket("Not Alice", requester=desk.bob, minutes_ago=3)
    ticket = open_ticket("Current")
    page = browser(desk.agent).get(f"/tickets/{ticket.pk}/")
    opened = [t.subject for t in page.context["open_tickets"]]
    earlier = [t.subject for t in page.context["earlier_tickets"]]
    assert opened == ["Still open"]  # not this one, not another department's, not Bob's
    assert earlier == ["Earlier 5", "Earlier 4", "Earlier 3", "Earlier 2", "Earlier 1"]
    html = page.content.decode()
    assert f'<a href="/tickets/{still_open.pk}/"><span class="num">#{still_open.number}</span>' in html
    assert elsewhere.subject not in html
    assert someone_else.subject not in html


def test_an_agent_edits_the_requesters_phone_language_and_vip(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Call me")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/contact/",
        _contact_form(desk.alice, **{"contact-phone": "+39 02 8088 1234", "contact-language": "it",
                                     "contact-vip": "on"}),
        headers=HX,
    )  # fmt: skip
    assert r.status_code == 200
    desk.alice.refresh_from_db()
    assert (desk.alice.phone, desk.alice.language, desk.alice.vip, desk.alice.name) == (
        "+39 02 8088 1234",
        "it",
        True,
        "Alice Acme",
    )
    assert "+39 02 8088 1234" in r.content.decode()


def test_a_refused_edit_shows_the_error_next_to_the_field_and_keeps_the_form_open(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Call me")
    r = browser(desk.agent).post(
        f"/tickets/{ticket.pk}/contact/", _contact_form(desk.alice, **{"contact-phone": "1" * 41}), headers=HX
    )
    assert r.status_code == 422
    assert r["HX-Retarget"] == "#contact-form"
    html = r.content.decode()
    assert 'id="id_contact-phone-error"' in html
    assert '<details class="edit-contact" id="contact-form" open>' in html
    desk.alice.refresh_from_db()
    assert desk.alice.phone == ""


def test_a_light_agent_reads_the_contact_but_cannot_edit_it(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Call me")
    client = browser(desk.light)
    assert "Edit contact" not in client.get(f"/tickets/{ticket.pk}/").content.decode()
    r = client.post(f"/tickets/{ticket.pk}/contact/", _contact_form(desk.alice, **{"contact-phone": "1"}))
    assert r.status_code == 403
    desk.alice.refresh_from_db()
    assert desk.alice.phone == ""


def test_an_outsider_and_an_anonymous_visitor_cannot_edit_the_contact(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    from django.test import Client

    ticket = open_ticket("Call me")
    data = _contact_form(desk.alice, **{"contact-phone": "1"})
    assert browser(desk.outsider).post(f"/tickets/{ticket.pk}/contact/", data).status_code == 404
    assert Client().post(f"/tickets/{ticket.pk}/contact/", data).status_code == 302
    desk.alice.refresh_from_db()
    assert desk.alice.phone == ""
