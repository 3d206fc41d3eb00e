"""Creating contacts and organizations in the Console (admins only; a taken address, phone,
name or domain said next to its field with a link to the one that has it, nothing typed lost),
and edits drawn from a page someone else changed meanwhile: refused, what was typed kept and
what is saved now shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from sportello.contacts.models import Contact, Organization
from sportello.contacts.services import (
    contact_fingerprint,
    contact_update,
    organization_create,
    organization_fingerprint,
    organization_update,
)
from sportello.core.errors import Conflict

STALE = "Someone else changed this while you were editing it: nothing was saved."


@pytest.mark.parametrize("path", ["/console/people/contacts/new/", "/console/people/organizations/new/"])
def test_only_admins_create_them(desk: Any, browser: Any, settings: Any, path: str) -> None:
    settings.DEBUG = False
    assert browser(desk.agent).get(path).status_code == 403
    assert browser(desk.light).get(path).status_code == 403
    assert (
        browser(desk.agent).post(path, {"name": "X", "email": "x@x.test", "tier": "gold"}).status_code == 403
    )
    assert Client().get(path).status_code == 302
    assert browser(desk.admin).get(path).status_code == 200
    assert not Contact.objects.filter(email="x@x.test").exists()
    assert not Organization.objects.filter(name="X").exists()


def test_the_lists_lead_to_the_new_forms(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert 'href="/console/people/contacts/new/"' in client.get("/console/people/contacts/").content.decode()
    orgs = client.get("/console/people/organizations/").content.decode()
    assert 'href="/console/people/organizations/new/"' in orgs


def test_an_admin_creates_a_contact(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get("/console/people/contacts/new/").content.decode()
    assert 'name="expected"' not in page
    r = client.post(
        "/console/people/contacts/new/",
        {
            "name": "Carla New",
            "email": "Carla@Globex.test",
            "phone": "+39 02 1",
            "organization": desk.acme.pk,
            "vip": "on",
        },
    )
    assert r.status_code == 302
    carla = Contact.objects.get(email="carla@globex.test")
    assert r["Location"] == f"/console/people/contacts/{carla.pk}/"
    assert (carla.name, carla.phone, carla.organization_id, carla.vip) == (
        "Carla New",
        "+39 02 1",
        desk.acme.pk,
        True,
    )
    assert "Contact “Carla New” created." in client.get(r["Location"]).content.decode()


def test_a_new_contact_without_organization_joins_its_domains(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/people/contacts/new/", {"email": "dan@acme.test"})
    assert r.status_code == 302
    assert Contact.objects.get(email="dan@acme.test").organization_id == desk.acme.pk


def test_a_taken_address_links_to_its_contact_and_keeps_what_was_typed(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/people/contacts/new/", {"name": "Typed Name", "email": "ALICE@acme.test", "phone": "+1 2"}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Another contact has this e-mail address." in html
    assert f'href="/console/people/contacts/{desk.alice.pk}/"' in html
    assert 'value="Typed Name"' in html
    assert 'value="+1 2"' in html
    assert Contact.objects.count() == 2


def test_a_contact_needs_an_address_or_a_phone(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/people/contacts/new/", {"name": "Nobody"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "Give an e-mail address, a phone or both." in html
    assert 'value="Nobody"' in html
    bad = browser(desk.admin).post("/console/people/contacts/new/", {"email": "not an address"})
    assert bad.status_code == 422
    assert not Contact.objects.filter(name="Nobody").exists()


def test_an_admin_creates_an_organization(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/console/people/organizations/new/",
        {"name": "Globex", "domains": "globex.test\n@Globex-Shop.test", "tier": "silver", "vip": "on"},
    )
    assert r.status_code == 302
    globex = Organization.objects.get(name="Globex")
    assert r["Location"] == f"/console/people/organizations/{globex.pk}/"
    assert (globex.domains, globex.tier, globex.vip) == (["globex.test", "globex-shop.test"], "silver", True)
    assert "Organization “Globex” created." in client.get(r["Location"]).content.decode()


def test_a_taken_name_or_domain_links_to_its_organization(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        "/console/people/organizations/new/", {"name": "ACME", "domains": "new.test", "tier": "gold"}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Another organization has this name." in html
    assert f'href="/console/people/organizations/{desk.acme.pk}/"' in html
    assert "new.test" in html
    r = client.post(
        "/console/people/organizations/new/", {"name": "Acme Two", "domains": "acme.test", "tier": "gold"}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "One of these domains belongs to another organization" in html
    assert f'href="/console/people/organizations/{desk.acme.pk}/"' in html
    assert 'value="Acme Two"' in html
    assert Organization.objects.count() == 1


def expected_on(html: str) -> str:
    found = re.search(r'name="expected" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def test_a_stale_contact_save_is_refused_keeping_what_was_typed(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    path = f"/console/people/contacts/{desk.bob.pk}/"
    expected = expected_on(client.get(path).content.decode())
    assert expected == contact_fingerprint(desk.bob)
    # someone else renames Bob and makes him a VIP meanwhile
    contact_update(contact=Contact.objects.get(pk=desk.bob.pk), actor=desk.admin, name="Robert", vip=True)
    r = client.post(path, {"name": "Bobby Typed", "email": "bob@example.test", "expected": expected})
    assert r.status_code == 409
    html = r.content.decode()
    assert STALE in html
    assert 'value="Bobby Typed"' in html
    assert "Saved now, where it differs from what you typed:" in html
    assert "<strong>Robert</strong>" in html
    assert "<strong>Yes</strong>" in html
    bob = Contact.objects.get(pk=desk.bob.pk)
    assert (bob.name, bob.vip) == ("Robert", True)
    # the refused form carries the current fingerprint: saving again overwrites deliberately
    again = expected_on(html)
    assert again == contact_fingerprint(bob)
    r = client.post(path, {"name": "Bobby Typed", "email": "bob@example.test", "expected": again})
    assert r.status_code == 302
    assert Contact.objects.get(pk=desk.bob.pk).name == "Bobby Typed"


def test_a_stale_organization_save_is_refused_keeping_what_was_typed(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    path = f"/console/people/organizations/{desk.acme.pk}/"
    expected = expected_on(client.get(path).content.decode())
    organization_update(
        organization=Organization.objects.get(pk=desk.acme.pk), actor=desk.admin, tier="platinum"
    )
    r = client.post(
        path, {"name": "Acme Typed", "domains": "acme.test", "tier": "gold", "expected": expected}
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert STALE in html
    assert 'value="Acme Typed"' in html
    assert "<strong>Platinum</strong>" in html
    acme = Organization.objects.get(pk=desk.acme.pk)
    assert (acme.name, acme.tier) == ("Acme", "platinum")
    assert expected_on(html) == organization_fingerprint(acme)


def test_the_services_refuse_a_stale_fingerprint(desk: Any) -> None:
    stale = contact_fingerprint(desk.alice)
    contact_update(contact=Contact.objects.get(pk=desk.alice.pk), actor=None, phone="+1 9")
    with pytest.raises(Conflict) as caught:
        contact_update(contact=Contact.objects.get(pk=desk.alice.pk), actor=None, name="X", expected=stale)
    assert (caught.value.field, caught.value.code) == ("expected", "stale")
    assert Contact.objects.get(pk=desk.alice.pk).name == "Alice Acme"
    org = organization_create(name="Initech")
    stale = organization_fingerprint(org)
    organization_update(organization=Organization.objects.get(pk=org.pk), actor=None, vip=True)
    with pytest.raises(Conflict) as caught:
        organization_update(
            organization=Organization.objects.get(pk=org.pk), actor=None, name="Y", expected=stale
        )
    assert caught.value.code == "stale"
    assert Organization.objects.get(pk=org.pk).name == "Initech"
    # a fingerprint that matches saves, the row read under its lock
    fresh = Organization.objects.get(pk=org.pk)
    organization_update(
        organization=fresh, actor=None, name="Initech Two", expected=organization_fingerprint(fresh)
    )
    assert Organization.objects.get(pk=org.pk).name == "Initech Two"


def test_an_admin_sets_a_contacts_language_and_a_change_meanwhile_is_shown_by_its_name(
    desk: Any, browser: Any
) -> None:
    client = browser(desk.admin)
    # a new contact's form starts on the desk's language; the admin picks Italian
    page = client.get("/console/people/contacts/new/").content.decode()
    assert re.search(r'<option value="en"[^>]*selected', page)
    r = client.post(
        "/console/people/contacts/new/", {"name": "Carla", "email": "carla@x.test", "language": "it"}
    )
    assert r.status_code == 302
    assert Contact.objects.get(email="carla@x.test").language == "it"
    # Bob's page shows his language; someone sets it to Spanish meanwhile
    path = f"/console/people/contacts/{desk.bob.pk}/"
    page = client.get(path).content.decode()
    assert re.search(r'<option value="en"[^>]*selected', page)
    expected = expected_on(page)
    contact_update(contact=Contact.objects.get(pk=desk.bob.pk), actor=desk.admin, language="es")
    r = client.post(
        path, {"name": "Bob", "email": "bob@example.test", "language": "it", "expected": expected}
    )
    # then the save is refused, and what is saved now is named as a language, not a code
    assert r.status_code == 409
    assert "<strong>Spanish</strong>" in r.content.decode()
    assert Contact.objects.get(pk=desk.bob.pk).language == "es"
    # a form without the field leaves the language as it is
    again = expected_on(r.content.decode())
    r = client.post(path, {"name": "Bob", "email": "bob@example.test", "expected": again})
    assert r.status_code == 302
    assert Contact.objects.get(pk=desk.bob.pk).language == "es"
