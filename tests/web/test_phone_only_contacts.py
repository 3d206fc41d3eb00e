"""Customers known only by their phone: a contact needs an e-mail address or a phone (unique
address when present; a phone-only contact's phone is unique too); the API creates and changes
them and names the field it refuses; the new-ticket screen finds them by phone and creates them
from a name and a phone; and nothing is ever e-mailed to them: an agent's reply and a rule's
notification are recorded, not sent, and the ticket's history says so."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.contacts.models import Contact
from sportello.contacts.services import contact_create, contact_update
from sportello.core.errors import Conflict, ValidationFailed
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import EventKind, TicketEvent
from testing import recorded

HX = {"HX-Request": "true"}
NOT_EMAILED = "Not e-mailed: the customer has no e-mail address"


@pytest.fixture
def caller(desk: Any) -> Contact:
    return contact_create(name="Carlo Caller", phone="+39 02 8088 1234", actor=desk.agent)


# -- the contact ------------------------------------------------------------------------------


def test_a_contact_with_a_phone_and_no_email_is_created_without_an_organization(caller: Contact) -> None:
    assert (caller.email, caller.phone, caller.organization_id, str(caller)) == (
        "",
        "+39 02 8088 1234",
        None,
        "Carlo Caller",
    )


def test_a_contact_needs_an_email_or_a_phone(desk: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        contact_create(name="Nobody", actor=desk.agent)
    assert (refused.value.field, refused.value.message) == (
        "email",
        "a contact needs an e-mail address or a phone number",
    )
    assert not Contact.objects.filter(name="Nobody").exists()


def test_a_phone_only_contacts_phone_is_theirs_alone_but_contacts_with_an_address_may_share_it(
    desk: Any, caller: Contact
) -> None:
    with pytest.raises(Conflict) as taken:
        contact_create(name="Carlo again", phone="+39  02 8088 1234", actor=desk.agent)  # spaces folded
    assert taken.value.field == "phone"
    shared = contact_create(email="office@acme.test", phone="+39 02 8088 1234", actor=desk.agent)
    assert shared.organization_id == desk.acme.pk


def test_addresses_stay_unique_case_insensitively_and_many_contacts_have_none(
    desk: Any, caller: Contact
) -> None:
    contact_create(name="Other caller", phone="+39 06 1111", actor=desk.agent)
    assert Contact.objects.filter(email="").count() == 2
    with pytest.raises(Conflict) as taken:
        contact_create(email="ALICE@acme.test", actor=desk.agent)
    assert taken.value.field == "email"


def test_a_contact_keeps_an_email_or_a_phone_when_either_is_removed(desk: Any, caller: Contact) -> None:
    with pytest.raises(ValidationFailed) as refused:
        contact_update(contact=caller, actor=desk.agent, phone="")
    assert refused.value.field == "phone"
    assert Contact.objects.get(pk=caller.pk).phone == "+39 02 8088 1234"
    assert caller.phone == "+39 02 8088 1234"  # the refused change left the object as it was
    contact_update(contact=caller, actor=desk.agent, email="carlo@example.test")
    contact_update(contact=caller, actor=desk.agent, phone="")
    caller.refresh_from_db()
    assert (caller.email, caller.phone) == ("carlo@example.test", "")
    with pytest.raises(ValidationFailed):
        contact_update(contact=caller, actor=desk.agent, email="")


# -- the API ----------------------------------------------------------------------------------


def test_the_api_creates_a_phone_only_contact_and_refuses_one_without_either(desk: Any, as_role: Any) -> None:
    api = as_role("agent")
    r = api.post("/contacts", {"name": "Pia Phone", "phone": "+44 20 7946 0002"})
    assert r.status_code == 201, r.content
    assert (r.json()["email"], r.json()["phone"]) == ("", "+44 20 7946 0002")
    r = api.post("/contacts", {"name": "Nobody"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "email"
    r = api.post("/contacts", {"name": "Pia twin", "phone": "+44 20 7946 0002"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "phone"


def test_the_api_removes_an_address_only_while_the_contact_has_a_phone(desk: Any, as_role: Any) -> None:
    api = as_role("agent")
    r = api.patch(f"/contacts/{desk.bob.pk}", {"email": ""})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "email")
    r = api.patch(f"/contacts/{desk.bob.pk}", {"email": "", "phone": "+1 555 0100"})
    assert r.status_code == 200, r.content
    assert (r.json()["email"], r.json()["phone"]) == ("", "+1 555 0100")


def test_contacts_are_found_by_phone_written_with_or_without_spaces(
    desk: Any, caller: Contact, as_role: Any
) -> None:
    for q in ("8088 1234", "0280881234", "+39-02-8088-1234"):
        r = as_role("agent").get("/contacts", params={"q": q})
        assert [c["id"] for c in r.json()["items"]] == [caller.pk], q


# -- never e-mailed -----------------------------------------------------------------------------


def test_an_agents_reply_to_a_phone_only_customer_is_recorded_not_emailed(
    desk: Any, caller: Contact, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Parcel lost", requester=caller)
    client = browser(desk.agent)
    r = client.post(f"/tickets/{ticket.pk}/reply/", {"kind": "public", "body": "Found it"}, headers=HX)
    assert r.status_code == 200
    # the reply is on the ticket; no mail is queued, to "" or anyone
    assert ticket.messages.filter(public=True, body_text__contains="Found it").exists()
    assert not OutboxMessage.objects.filter(ticket=ticket, kind="email").exists()
    # and the change says why
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.NOTIFICATION)
    assert (event.field, event.actor_kind) == ("no_address", "system")
    assert NOT_EMAILED in client.get(f"/tickets/{ticket.pk}/").content.decode()


def test_a_note_to_a_phone_only_customer_records_nothing_about_mail(
    desk: Any, caller: Contact, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Parcel lost", requester=caller)
    browser(desk.agent).post(
        f"/tickets/{ticket.pk}/reply/", {"kind": "internal", "body": "Check depot"}, headers=HX
    )
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION).exists()


def test_a_rule_notifying_the_requester_records_that_it_could_not(
    desk: Any, caller: Contact, open_ticket: Any, now: Any
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "ack",
            "name": "Acknowledge",
            "on": ["ticket.created"],
            "when": {"all": []},
            "actions": [
                {"notify": {"to": ["requester", "assignee"], "subject": "We got it", "body": "Thanks"}}
            ],
        },
        created_by=desk.admin,
        now=now,
    )
    ticket = open_ticket("Parcel lost", requester=caller, assignee_id=desk.agent.pk)
    # the assignee is told; the requester cannot be, and the ticket says so
    sent = [m.payload["to"] for m in OutboxMessage.objects.filter(ticket=ticket, kind="email")]
    assert sent == [[desk.agent.email]]
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.NOTIFICATION)
    assert (event.field, recorded(event)["subject"], recorded(event)["rule"]) == (
        "no_address",
        "We got it",
        "ack@1",
    )


def test_a_rule_notifying_a_customer_with_an_address_records_nothing_of_the_kind(
    desk: Any, open_ticket: Any, now: Any
) -> None:
    from sportello.automation.models import RuleKind
    from sportello.automation.services import rule_save

    rule_save(
        kind=RuleKind.EVENT,
        definition={
            "key": "ack", "name": "Acknowledge", "on": ["ticket.created"], "when": {"all": []},
            "actions": [{"notify": {"to": ["requester"], "subject": "We got it", "body": "Thanks"}}],
        },
        created_by=desk.admin, now=now,
    )  # fmt: skip
    ticket = open_ticket("Parcel lost")
    assert [m.payload["to"] for m in OutboxMessage.objects.filter(ticket=ticket)] == [["alice@acme.test"]]
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION).exists()


# -- the Desk ---------------------------------------------------------------------------------


def test_the_composer_and_the_customer_panel_say_replies_are_not_emailed(
    desk: Any, caller: Contact, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Parcel lost", requester=caller)
    html = browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "this customer has no e-mail address. The reply is recorded on the ticket; call them on" in html
    assert "<bdi>+39 02 8088 1234</bdi>" in html
    assert "Public reply: the customer receives it by e-mail." not in html
    assert "None: replies are not e-mailed" in html
    # a customer with an address: the usual banner
    other = browser(desk.agent).get(f"/tickets/{open_ticket('Mail me').pk}/").content.decode()
    assert "Public reply: the customer receives it by e-mail." in other
    assert "this customer has no e-mail address" not in other


def _new_ticket_data(desk: Any, **overrides: str) -> dict[str, str]:
    return {
        "department": str(desk.books.pk), "requester_q": "", "new_name": "", "new_email": "", "new_phone": "",
        "channel": "phone", "subject": "Called about a parcel", "priority": "normal",
        "description": "The parcel never came.", **overrides,
    }  # fmt: skip


def test_the_new_ticket_screen_finds_a_customer_by_phone(desk: Any, caller: Contact, browser: Any) -> None:
    r = browser(desk.agent).get("/tickets/new/requesters/", {"requester_q": "0280881234"}, headers=HX)
    assert [c.pk for c in r.context["form"].requesters] == [caller.pk]
    assert "Carlo Caller · +39 02 8088 1234" in r.content.decode()
    # while the agent types, the form is not yet judged: no "pick the customer" error
    assert "Pick the customer" not in r.content.decode()


def test_the_new_ticket_screen_creates_a_customer_from_a_name_and_a_phone(desk: Any, browser: Any) -> None:
    client = browser(desk.agent)
    r = client.post("/tickets/new/", _new_ticket_data(desk, new_name="Walk In", new_phone="+39 06 5555"))
    assert r.status_code == 302, r.content.decode()[:2000]
    contact = Contact.objects.get(phone="+39 06 5555")
    assert (contact.name, contact.email) == ("Walk In", "")
    # a second call from them, typed again: the same customer
    r = client.post("/tickets/new/", _new_ticket_data(desk, new_name="Walk In", new_phone="+39 06  5555"))
    assert r.status_code == 302
    assert Contact.objects.filter(phone="+39 06 5555").count() == 1
    assert contact.tickets.count() == 2


def test_the_new_ticket_screen_asks_for_an_email_or_a_phone_and_a_callers_name(
    desk: Any, browser: Any
) -> None:
    client = browser(desk.agent)
    r = client.post("/tickets/new/", _new_ticket_data(desk, new_name="Somebody"))
    assert r.status_code == 422
    assert r.context["form"].errors["requester"] == [
        "Pick the customer, or give a new customer's e-mail or phone."
    ]
    r = client.post("/tickets/new/", _new_ticket_data(desk, new_phone="+39 06 7777"))
    assert r.status_code == 422
    assert r.context["form"].errors["new_name"] == ["Give the name of a customer known only by their phone."]
    assert not Contact.objects.filter(phone="+39 06 7777").exists()
