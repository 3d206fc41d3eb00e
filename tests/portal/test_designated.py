"""An organization's designated contacts in the portal: they see, answer, close and reopen the
organization's tickets as the requester does (their replies theirs in the audit trail); the
organization's other contacts and other organizations' contacts are told such a ticket does not
exist (404, as a missing one). A designation applies while the contact stays in the
organization, is set on the organization's Console page, and is recorded in the history."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.contacts.services import contact_create, contact_update, organization_create
from sportello.core.errors import PermissionDenied
from sportello.core.history import config_history
from sportello.core.models import ConfigSnapshot
from sportello.portal import services
from sportello.portal.models import DesignatedContact
from sportello.tickets.models import Message, StatusCategory, TicketEvent
from testing import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(desk: Any, open_ticket: Any) -> Any:
    """Carla's ticket at Acme; Alice is Acme's designated contact, Dario is at Acme but is not,
    Olga is at another organization."""
    carla = contact_create(email="carla@acme.test", name="Carla Acme")
    dario = contact_create(email="dario@acme.test", name="Dario Acme")
    organization_create(name="Umbrella", domains=["umbrella.test"])
    olga = contact_create(email="olga@umbrella.test", name="Olga Umbrella")
    services.designated_set(contact=desk.alice, designated=True, actor=desk.admin, now=NOW)
    ticket = open_ticket("Acme invoice", requester=carla)

    class Acme:
        pass

    a = Acme()
    a.carla, a.dario, a.olga, a.ticket = carla, dario, olga, ticket  # type: ignore[attr-defined]
    return a


def _probe(client: Client, number: int, version: int) -> list[int]:
    return [
        client.get(f"/portal/tickets/{number}/").status_code,
        client.post(f"/portal/tickets/{number}/", {"body": "hijack"}).status_code,
        client.post(f"/portal/tickets/{number}/close/", {"version": version}).status_code,
        client.post(f"/portal/tickets/{number}/reopen/", {"version": version}).status_code,
    ]


def test_who_sees_an_organizations_ticket(desk: Any, acme: Any, customer: Any) -> None:
    # given Carla's ticket at Acme
    number, version = acme.ticket.number, acme.ticket.version
    # then the requester and the designated contact read it; the others are told it is missing
    assert customer(acme.carla).get(f"/portal/tickets/{number}/").status_code == 200
    assert customer(desk.alice).get(f"/portal/tickets/{number}/").status_code == 200
    missing = customer(acme.dario).get("/portal/tickets/999999/")
    for outsider in (acme.dario, acme.olga, desk.bob):
        client = customer(outsider)
        assert _probe(client, number, version) == [404, 404, 404, 404]
        assert client.get(f"/portal/tickets/{number}/").content == missing.content
    assert not Message.objects.filter(body_text="hijack").exists()
    acme.ticket.refresh_from_db()
    assert (acme.ticket.status_category, acme.ticket.version) == (StatusCategory.NEW, version)


def test_the_organization_filter_lists_its_tickets_for_the_designated_contact_only(
    desk: Any, acme: Any, customer: Any, open_ticket: Any
) -> None:
    open_ticket("Alice's own order")
    alice = customer(desk.alice)
    mine = alice.get("/portal/tickets/").content.decode()
    theirs = alice.get("/portal/tickets/?scope=organization").content.decode()
    assert "Alice&#x27;s own order" in mine
    assert "Acme invoice" not in mine
    assert "Acme invoice" in theirs
    assert "Carla Acme" in theirs
    assert 'href="?scope=organization"' in mine
    # Dario asks for the organization's list: he gets his own (empty) list, no tabs
    dario = customer(acme.dario).get("/portal/tickets/?scope=organization").content.decode()
    assert "Acme invoice" not in dario
    assert 'href="?scope=organization"' not in dario


def test_a_designated_contact_replies_closes_and_reopens_as_themself(
    desk: Any, acme: Any, customer: Any
) -> None:
    ticket = acme.ticket
    alice = customer(desk.alice)
    page = alice.get(f"/portal/tickets/{ticket.number}/")
    assert b"Requested by Carla Acme" in page.content
    assert b'action="/portal/tickets/%d/close/"' % ticket.number in page.content
    # when Alice answers Carla's ticket
    assert alice.post(f"/portal/tickets/{ticket.number}/", {"body": "Paid on Monday."}).status_code == 302
    reply = Message.objects.get(ticket=ticket, body_text="Paid on Monday.")
    assert (reply.author_contact_id, reply.via, reply.public) == (desk.alice.pk, "portal", True)
    event = TicketEvent.objects.filter(ticket=ticket, kind="message").last()
    assert event is not None
    assert (event.actor_kind, event.actor_id, event.via) == ("contact", desk.alice.pk, "portal")
    # and closes it, then reopens it
    ticket.refresh_from_db()
    assert (
        alice.post(f"/portal/tickets/{ticket.number}/close/", {"version": ticket.version}).status_code == 302
    )
    ticket.refresh_from_db()
    assert ticket.status_category == StatusCategory.SOLVED
    closed = TicketEvent.objects.filter(ticket=ticket, field="status").last()
    assert closed is not None
    assert (closed.actor_kind, closed.actor_id, closed.via) == ("contact", desk.alice.pk, "portal")
    assert (
        alice.post(f"/portal/tickets/{ticket.number}/reopen/", {"version": ticket.version}).status_code == 302
    )
    ticket.refresh_from_db()
    assert ticket.status_category == StatusCategory.OPEN
    # the requester sees Alice's words under Alice's name
    assert b"Alice Acme" in customer(acme.carla).get(f"/portal/tickets/{ticket.number}/").content


def test_a_designation_ends_when_the_contact_leaves_the_organization(
    desk: Any, acme: Any, customer: Any
) -> None:
    # given Alice, designated at Acme, moved to Umbrella
    from sportello.contacts.models import Organization

    umbrella = Organization.objects.get(name="Umbrella")
    contact_update(contact=desk.alice, actor=desk.admin, organization=umbrella)
    olgas = services.request_submit(
        contact=acme.olga,
        department_id=desk.books.pk,
        subject="Umbrella order",
        description="Where is it?",
        custom_fields={},
        uploads=[],
        now=NOW,
    ).ticket
    alice = customer(desk.alice)
    # then she sees neither Acme's tickets nor her new organization's
    assert alice.get(f"/portal/tickets/{acme.ticket.number}/").status_code == 404
    assert alice.get(f"/portal/tickets/{olgas.number}/").status_code == 404
    assert b"Umbrella order" not in alice.get("/portal/tickets/?scope=organization").content


def test_designations_are_agents_work_and_recorded_in_the_history(desk: Any, acme: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.designated_set(contact=acme.dario, designated=True, actor=desk.light, now=NOW)
    services.designated_set(contact=acme.dario, designated=True, actor=desk.agent, now=NOW)
    services.designated_set(contact=desk.alice, designated=False, actor=desk.admin, now=NOW)
    assert list(DesignatedContact.objects.values_list("contact_id", "organization_id")) == [
        (acme.dario.pk, desk.acme.pk)
    ]
    rows = ConfigSnapshot.objects.filter(kind="designated_contacts", key=str(desk.acme.pk)).order_by(
        "version"
    )
    assert [(r.version, r.definition, r.created_by_id) for r in rows] == [
        (1, {"designated": []}, None),  # as it was before its first change, by nobody
        (2, {"designated": ["alice@acme.test"]}, desk.admin.pk),
        (3, {"designated": ["alice@acme.test", "dario@acme.test"]}, desk.agent.pk),
        (4, {"designated": ["dario@acme.test"]}, desk.admin.pk),
    ]
    assert {r.name for r in rows} == {"Acme"}
    assert config_history("designated_contacts", key=str(desk.acme.pk)).current == 4


def test_restoring_a_version_brings_its_designated_contacts_back(desk: Any, acme: Any) -> None:
    from sportello.core.history import version_restore

    services.designated_set(contact=acme.dario, designated=True, actor=desk.admin, now=NOW)
    services.designated_set(contact=desk.alice, designated=False, actor=desk.admin, now=NOW)
    version_restore("designated_contacts", key=str(desk.acme.pk), version=2, actor=desk.admin, now=NOW)
    assert list(DesignatedContact.objects.values_list("contact_id", flat=True)) == [desk.alice.pk]
    latest = ConfigSnapshot.objects.filter(kind="designated_contacts").order_by("-version").first()
    assert latest is not None
    assert (latest.version, latest.definition) == (5, {"designated": ["alice@acme.test"]})


def test_an_admin_designates_a_contact_on_the_organizations_console_page(
    desk: Any, acme: Any, browser: Any
) -> None:
    client = browser(desk.admin)
    page = client.get(f"/console/people/organizations/{desk.acme.pk}/").content.decode()
    assert "Designated contacts" in page
    assert f'href="/console/history/designated_contacts/{desk.acme.pk}/"' in page
    response = client.post(
        f"/console/people/organizations/{desk.acme.pk}/designated/",
        {"contact": acme.dario.pk, "designated": "1"},
    )
    assert response.status_code == 302
    assert DesignatedContact.objects.filter(contact=acme.dario, organization=desk.acme).exists()
    latest = ConfigSnapshot.objects.filter(kind="designated_contacts").order_by("-version").first()
    assert latest is not None
    assert (latest.definition, latest.created_by_id) == (
        {"designated": ["alice@acme.test", "dario@acme.test"]},
        desk.admin.pk,
    )
    history = client.get(f"/console/history/designated_contacts/{desk.acme.pk}/")
    assert history.status_code == 200
    # a contact of another organization cannot be designated through Acme's page
    refused = client.post(
        f"/console/people/organizations/{desk.acme.pk}/designated/",
        {"contact": acme.olga.pk, "designated": "1"},
    )
    assert refused.status_code == 404
    assert not DesignatedContact.objects.filter(contact=acme.olga).exists()
    # agents do not change the Console
    assert (
        browser(desk.agent)
        .post(
            f"/console/people/organizations/{desk.acme.pk}/designated/",
            {"contact": acme.carla.pk, "designated": "1"},
        )
        .status_code
        == 403
    )
    assert not DesignatedContact.objects.filter(contact=acme.carla).exists()


def test_the_designated_contacts_page_speaks_their_language(desk: Any, acme: Any, customer: Any) -> None:
    contact_update(contact=desk.alice, actor=desk.admin, language="it")
    page = customer(desk.alice).get(f"/portal/tickets/{acme.ticket.number}/")
    assert "Richiesta di Carla Acme" in page.content.decode()
