"""The Console's contact merge: from a contact, pick the duplicate (searched or suggested), read
what moves on the confirmation page, merge; admins only, refusals shown in words."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.contacts.models import Contact, MergedContact
from sportello.contacts.services import contact_create, contact_merge
from sportello.tickets.models import Ticket


def paths(desk: Any) -> list[str]:
    return [
        f"/console/people/contacts/{desk.alice.pk}/merge/",
        f"/console/people/contacts/{desk.alice.pk}/merge/{desk.bob.pk}/",
    ]


def test_only_admins_open_or_post_them(desk: Any, browser: Any, settings: Any) -> None:
    settings.DEBUG = False
    for path in paths(desk):
        assert browser(desk.agent).get(path).status_code == 403
        assert browser(desk.light).get(path).status_code == 403
        assert Client().get(path).status_code == 302
        assert browser(desk.admin).get(path).status_code == 200
    assert browser(desk.agent).post(paths(desk)[1]).status_code == 403
    assert Contact.objects.filter(pk=desk.bob.pk).exists()


def test_the_picker_searches_and_suggests_duplicates(desk: Any, browser: Any) -> None:
    twin = contact_create(email="alice@elsewhere.test", name="Alice Acme")
    client = browser(desk.admin)
    r = client.get(f"/console/people/contacts/{desk.alice.pk}/merge/")
    assert [c.pk for c in r.context["suggested"]] == [twin.pk]
    assert r.context["found"] == []
    r = client.get(f"/console/people/contacts/{desk.alice.pk}/merge/?q=example")
    assert [c.pk for c in r.context["found"]] == [desk.bob.pk]
    html = r.content.decode()
    assert f"/console/people/contacts/{desk.alice.pk}/merge/{desk.bob.pk}/" in html
    # the contact itself is never offered
    r = client.get(f"/console/people/contacts/{desk.alice.pk}/merge/?q=acme")
    assert [c.pk for c in r.context["found"]] == [twin.pk]


def test_the_contact_page_offers_the_merge_and_its_likely_duplicates(desk: Any, browser: Any) -> None:
    twin = contact_create(email="alice@elsewhere.test", name="Alice Acme")
    r = browser(desk.admin).get(f"/console/people/contacts/{desk.alice.pk}/")
    html = r.content.decode()
    assert "Merge a duplicate…" in html
    assert [c.pk for c in r.context["duplicates"]] == [twin.pk]


def test_the_confirmation_says_what_moves_and_the_merge_moves_it(
    desk: Any, browser: Any, open_ticket: Any, now: Any
) -> None:
    ticket = open_ticket("Lost parcel", requester=desk.bob)
    bare = contact_create(phone="+39 02 7")
    client = browser(desk.admin)
    r = client.get(f"/console/people/contacts/{bare.pk}/merge/{desk.bob.pk}/")
    html = r.content.decode()
    assert "1 ticket" in html
    assert "1 message they wrote" in html
    assert "bob@example.test" in html  # the address it takes, and mail from it
    assert [str(label) for label, _value in r.context["filled"]] == ["Name", "E-mail"]
    r = client.post(f"/console/people/contacts/{bare.pk}/merge/{desk.bob.pk}/")
    assert r.status_code == 302
    assert r["Location"] == f"/console/people/contacts/{bare.pk}/"
    assert Ticket.objects.get(pk=ticket.pk).requester_id == bare.pk
    assert not Contact.objects.filter(pk=desk.bob.pk).exists()
    bare.refresh_from_db()
    assert (bare.name, bare.email) == ("Bob Example", "bob@example.test")
    page = client.get(r["Location"]).content.decode()
    assert "Merged into “Bob Example”: the duplicate is gone." in page
    # an old link to the merged contact leads to the one it became
    old = client.get(f"/console/people/contacts/{desk.bob.pk}/")
    assert old.status_code == 302
    assert old["Location"] == f"/console/people/contacts/{bare.pk}/"


def test_a_duplicate_merged_meanwhile_is_said_and_nothing_else_happens(
    desk: Any, browser: Any, now: Any
) -> None:
    carla = contact_create(email="carla@example.test", name="Carla")
    client = browser(desk.admin)
    assert client.get(f"/console/people/contacts/{desk.alice.pk}/merge/{desk.bob.pk}/").status_code == 200
    contact_merge(actor=desk.admin, source_id=desk.bob.pk, target_id=carla.pk, now=now)
    r = client.post(f"/console/people/contacts/{desk.alice.pk}/merge/{desk.bob.pk}/", follow=True)
    assert (
        "One of these contacts was merged into another meanwhile: nothing was merged." in r.content.decode()
    )
    assert MergedContact.objects.get(source_id=desk.bob.pk).target_id == carla.pk
    assert Contact.objects.filter(pk=desk.alice.pk).exists()


def test_a_contact_merged_into_itself_goes_back_to_the_picker(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).get(f"/console/people/contacts/{desk.alice.pk}/merge/{desk.alice.pk}/")
    assert r.status_code == 302
    assert r["Location"] == f"/console/people/contacts/{desk.alice.pk}/merge/"


def test_an_unknown_duplicate_is_a_404(desk: Any, browser: Any) -> None:
    assert (
        browser(desk.admin).get(f"/console/people/contacts/{desk.alice.pk}/merge/999999/").status_code == 404
    )


@pytest.mark.parametrize("n", [1, 15])
def test_the_picker_reads_a_fixed_number_of_statements(
    desk: Any, browser: Any, django_assert_num_queries: Any, n: int
) -> None:
    for i in range(n):
        contact_create(email=f"dupe{i}@acme.test", name=f"Dupe {i}")
    client = browser(desk.admin)
    client.get("/console/people/contacts/")  # warm the session
    # session, user, the contact, the search's page, the likely duplicates
    with django_assert_num_queries(5):
        client.get(f"/console/people/contacts/{desk.alice.pk}/merge/?q=dupe")
