"""Merging a duplicate contact into another (`contacts.services.contact_merge`): every row that
pointed at the source points at the target, the target's empty fields are filled, the source's
address stays reachable, each moved ticket's audit says who merged and why, and the refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.contacts import merging, selectors
from sportello.contacts.models import Contact, MergedContact
from sportello.contacts.services import (
    contact_by_email,
    contact_create,
    contact_get_or_create,
    contact_merge,
    contact_update,
    organization_create,
)
from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.tickets.models import Message, Ticket, TicketEvent


def test_every_foreign_key_to_contact_has_a_merge_mover() -> None:
    # A new foreign key to Contact fails here until its app registers how a merge moves it.
    assert merging.unhandled() == []
    assert merging.foreign_keys() == [
        "contacts.MergedContact.target",
        "kb.ArticleVote.contact",
        "kb.SuggestionEvent.contact",
        "portal.CustomerPassword.contact",
        "portal.DesignatedContact.contact",
        "portal.SignInLink.contact",
        "tickets.Message.author_contact",
        "tickets.Ticket.requester",
    ]


def test_a_merge_refuses_to_run_while_a_foreign_key_has_no_mover(
    desk: Any, now: datetime, monkeypatch: Any
) -> None:
    monkeypatch.setattr(merging, "_REFERENCES", {})
    with pytest.raises(RuntimeError, match=r"tickets\.Ticket\.requester"):
        contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    assert Contact.objects.filter(pk=desk.bob.pk).exists()


def test_a_merge_moves_every_row_pointing_at_the_source(desk: Any, open_ticket: Any, now: datetime) -> None:
    # given a source with tickets, messages, and a contact merged into it earlier
    old = contact_create(email="old-bob@example.test", name="Old Bob")
    contact_merge(actor=desk.admin, source_id=old.pk, target_id=desk.bob.pk, now=now)
    open_ticket("One", requester=desk.bob)
    open_ticket("Two", requester=desk.bob)
    # when it is merged into Alice
    outcome = contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    # then no row of any model refers to the source any more, whichever the foreign key
    for reference in merging.references():
        left = reference.model._default_manager.filter(**{f"{reference.field}_id": desk.bob.pk})
        assert not left.exists(), reference.key
    assert outcome.moved == {
        "contacts.MergedContact.target": 1,
        "kb.ArticleVote.contact": 0,
        "kb.SuggestionEvent.contact": 0,
        "portal.CustomerPassword.contact": 0,
        "portal.DesignatedContact.contact": 0,
        "portal.SignInLink.contact": 0,
        "tickets.Message.author_contact": 2,
        "tickets.Ticket.requester": 2,
    }
    assert Ticket.objects.filter(requester=desk.alice).count() == 2
    assert Message.objects.filter(author_contact=desk.alice).count() == 2
    assert not Contact.objects.filter(pk=desk.bob.pk).exists()
    assert sorted(MergedContact.objects.filter(target=desk.alice).values_list("email", flat=True)) == [
        "bob@example.test",
        "old-bob@example.test",
    ]


def test_each_moved_ticket_records_who_merged_and_why(desk: Any, open_ticket: Any, now: datetime) -> None:
    ticket = open_ticket("Printer", requester=desk.bob)
    version = ticket.version
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now, via=Via.WEB)
    [event] = TicketEvent.objects.filter(ticket=ticket, field="requester")
    assert (event.kind, event.old_value, event.new_value) == ("field", desk.bob.pk, desk.alice.pk)
    assert (event.actor_kind, event.actor_id, event.via, event.cause) == (
        "agent",
        desk.admin.pk,
        "web",
        "contact merged",
    )
    assert event.at == now
    assert Ticket.objects.get(pk=ticket.pk).version == version + 1


def test_the_targets_empty_fields_are_filled_from_the_source(desk: Any, now: datetime) -> None:
    org = organization_create(name="Example Inc")
    source = contact_create(
        email="carla@example.test", name="Carla", phone="+39 02 1", organization=org, vip=True
    )
    contact_update(contact=source, actor=None, language="it", time_zone="Europe/Rome")
    target = contact_create(phone="+39 333 9")
    outcome = contact_merge(actor=desk.admin, source_id=source.pk, target_id=target.pk, now=now)
    assert outcome.filled == {
        "name": "Carla",
        "email": "carla@example.test",
        "organization": org.pk,
        "language": "it",
        "time_zone": "Europe/Rome",
        "vip": True,
    }
    target.refresh_from_db()
    assert (target.name, target.email, target.phone, target.organization_id) == (
        "Carla",
        "carla@example.test",
        "+39 333 9",  # kept: the target had one
        org.pk,
    )
    assert (target.language, target.time_zone, target.vip) == ("it", "Europe/Rome", True)
    # the address moved onto the target itself: no merged record holds it
    assert MergedContact.objects.get(source_id=source.pk).email == ""


def test_mail_from_a_merged_address_belongs_to_the_target(desk: Any, now: datetime) -> None:
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    with CaptureQueriesContext(connection) as queries:
        found = contact_by_email("BOB@example.test")
    assert found is not None
    assert found.pk == desk.alice.pk
    assert len(queries) == 1
    assert contact_get_or_create(email="bob@example.test").pk == desk.alice.pk
    assert Contact.objects.count() == 1
    # and no new contact takes the address
    with pytest.raises(Conflict):
        contact_create(email="bob@example.test")


def test_merging_a_contact_into_itself_is_refused(desk: Any, now: datetime) -> None:
    with pytest.raises(ValidationFailed) as exc:
        contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.bob.pk, now=now)
    assert exc.value.code == "merge_self"


def test_merging_from_or_into_a_merged_contact_is_refused(desk: Any, now: datetime) -> None:
    carla = contact_create(email="carla@example.test")
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    for source, target in ((desk.bob.pk, desk.alice.pk), (carla.pk, desk.bob.pk), (desk.bob.pk, carla.pk)):
        with pytest.raises(Conflict) as exc:
            contact_merge(actor=desk.admin, source_id=source, target_id=target, now=now)
        assert exc.value.code == "contact_merged"
        assert f"merged into contact {desk.alice.pk}" in exc.value.message
    with pytest.raises(NotFound):
        contact_merge(actor=desk.admin, source_id=carla.pk, target_id=999_999, now=now)
    assert Contact.objects.filter(pk=carla.pk).exists()


def test_only_admins_merge(desk: Any, now: datetime) -> None:
    for user in (desk.agent, desk.light):
        with pytest.raises(PermissionDenied):
            contact_merge(actor=user, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    assert Contact.objects.filter(pk=desk.bob.pk).exists()


def test_an_edit_of_a_merged_contact_is_refused(desk: Any, now: datetime) -> None:
    stale = Contact.objects.get(pk=desk.bob.pk)
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    with pytest.raises(Conflict) as exc:
        contact_update(contact=stale, actor=desk.admin, name="Too late")
    assert exc.value.code == "contact_merged"
    # the edit form sends the address too: still the merge that is said
    with pytest.raises(Conflict) as exc:
        contact_update(contact=stale, actor=desk.admin, name="Too late", email="bob@example.test")
    assert exc.value.code == "contact_merged"


def test_the_preview_counts_what_would_move(desk: Any, open_ticket: Any, now: datetime) -> None:
    open_ticket("One", requester=desk.bob)
    preview = selectors.contact_merge_preview(user=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk)
    assert [(line.key, line.count, line.text) for line in preview.moves] == [
        ("tickets.Ticket.requester", 1, "1 ticket"),
        ("tickets.Message.author_contact", 1, "1 message they wrote"),
        ("kb.ArticleVote.contact", 0, "0 votes on help articles"),
        ("kb.SuggestionEvent.contact", 0, "0 answer suggestion events"),
        ("contacts.MergedContact.target", 0, "0 contacts merged into it earlier"),
        ("portal.CustomerPassword.contact", 0, "0 portal passwords (moved when the contact kept has none)"),
        (
            "portal.DesignatedContact.contact",
            0,
            "0 designations to see the organization's requests in the portal "
            "(moved when the contact kept has none)",
        ),
        ("portal.SignInLink.contact", 0, "0 portal sign-in links (discarded)"),
    ]
    assert preview.tickets == 1
    assert preview.filled == {}
    assert Contact.objects.filter(pk=desk.bob.pk).exists()


def test_likely_duplicates_share_a_name_a_phone_or_a_company_domain(desk: Any) -> None:
    same_name = contact_create(email="alice.acme@elsewhere.test", name="alice acme")
    same_domain = contact_create(email="zed@acme.test", name="Zed")
    phone = contact_create(phone="+39 02 5", name="Caller")
    same_phone = contact_create(email="caller@example.test", phone="+39 02 5")
    contact_create(email="other@gmail.com", name="Gmail One")
    gmail = contact_create(email="another@gmail.com", name="Gmail Two")
    assert [c.pk for c in selectors.contact_duplicates(contact=desk.alice)] == [same_name.pk, same_domain.pk]
    assert [c.pk for c in selectors.contact_duplicates(contact=phone)] == [same_phone.pk]
    assert selectors.contact_duplicates(contact=gmail) == []  # a public mail domain says nothing


def test_the_ticket_history_names_the_merged_contact_and_the_cause(
    desk: Any, open_ticket: Any, now: datetime, browser: Any
) -> None:
    from django.utils import translation

    ticket = open_ticket("Printer", requester=desk.bob, by=desk.admin)
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=desk.alice.pk, now=now)
    html = browser(desk.admin).get(f"/tickets/{ticket.pk}/").content.decode()
    start = html.index('id="events-title"')
    history = html[start : html.index("</section>", start)]
    assert "Bob Example" in history  # the requester before, by the name it had
    assert "Alice Acme" in history
    assert "contact merged" in history
    with translation.override("it"):
        from sportello.web.timeline import cause_words

        assert cause_words(["contact merged"]) == {"contact merged": "contatto unito"}
