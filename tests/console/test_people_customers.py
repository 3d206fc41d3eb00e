"""The Console's contacts and organizations: lists searched and paged, edit pages that save
through the contacts services, errors next to their field with nothing typed lost; admins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.contacts.models import Contact, Organization
from sportello.contacts.services import contact_create, organization_create

PAGES = [
    "/console/people/contacts/",
    "/console/people/contacts/{contact}/",
    "/console/people/organizations/",
    "/console/people/organizations/{org}/",
]


def contact_names(r: Any) -> list[str]:
    return [c.name for c in r.context["contacts"]]


@pytest.mark.parametrize("path", PAGES)
def test_only_admins_open_them(desk: Any, browser: Any, settings: Any, path: str) -> None:
    settings.DEBUG = False
    path = path.format(contact=desk.alice.pk, org=desk.acme.pk)
    assert browser(desk.agent).get(path).status_code == 403
    assert browser(desk.light).get(path).status_code == 403
    assert Client().get(path).status_code == 302
    assert browser(desk.admin).get(path).status_code == 200


def test_an_agent_edits_no_contact_here(desk: Any, browser: Any) -> None:
    r = browser(desk.agent).post(
        f"/console/people/contacts/{desk.alice.pk}/", {"name": "X", "email": "x@x.test"}
    )
    assert r.status_code == 403
    assert Contact.objects.get(pk=desk.alice.pk).name == "Alice Acme"


def test_the_contacts_are_listed_and_searched(desk: Any, browser: Any) -> None:
    contact_create(phone="+39 02 1234 5678", name="Carla Caller")
    client = browser(desk.admin)
    r = client.get("/console/people/contacts/")
    assert contact_names(r) == ["Alice Acme", "Bob Example", "Carla Caller"]
    html = r.content.decode()
    assert "alice@acme.test" in html
    assert "Acme" in html
    assert contact_names(client.get("/console/people/contacts/?q=example")) == ["Bob Example"]
    assert contact_names(client.get("/console/people/contacts/?q=0212345678")) == ["Carla Caller"]
    empty = client.get("/console/people/contacts/?q=nobody")
    assert "No contact matches this search." in empty.content.decode()
    assert client.get("/console/people/contacts/?cursor=bad").status_code == 400


def test_contacts_come_a_page_at_a_time(desk: Any, browser: Any, monkeypatch: Any) -> None:
    from sportello.console.people import customers

    monkeypatch.setattr(customers, "PAGE_SIZE", 1)
    client = browser(desk.admin)
    first = client.get("/console/people/contacts/?q=e")
    assert contact_names(first) == ["Alice Acme"]
    assert "q=e" in first.context["next_url"]
    assert contact_names(client.get(first.context["next_url"])) == ["Bob Example"]


def test_an_admin_edits_a_contact(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    r = client.post(
        f"/console/people/contacts/{desk.bob.pk}/",
        {
            "name": "Bob E.",
            "email": "bob@acme.test",
            "phone": "+1 555 0100",
            "organization": desk.acme.pk,
            "vip": "on",
        },
    )
    assert r.status_code == 302
    bob = Contact.objects.get(pk=desk.bob.pk)
    assert (bob.name, bob.email, bob.phone, bob.organization_id, bob.vip) == (
        "Bob E.",
        "bob@acme.test",
        "+1 555 0100",
        desk.acme.pk,
        True,
    )
    assert "Contact “Bob E.” saved." in client.get(r["Location"]).content.decode()


def test_a_taken_address_is_said_next_to_it_and_nothing_typed_is_lost(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        f"/console/people/contacts/{desk.bob.pk}/", {"name": "Bob Typed", "email": "ALICE@acme.test"}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Another contact has this e-mail address." in html
    assert 'value="Bob Typed"' in html
    r = browser(desk.admin).post(f"/console/people/contacts/{desk.bob.pk}/", {"name": "Bob", "email": ""})
    assert r.status_code == 422
    assert "Give an e-mail address, a phone or both." in r.content.decode()
    assert Contact.objects.get(pk=desk.bob.pk).email == "bob@example.test"


def test_organizations_are_listed_searched_and_edited(desk: Any, browser: Any) -> None:
    organization_create(name="Globex", domains=["globex.test"])
    client = browser(desk.admin)
    r = client.get("/console/people/organizations/")
    assert [o.name for o in r.context["organizations"]] == ["Acme", "Globex"]
    html = r.content.decode()
    assert "acme.test" in html
    assert "Gold" in html
    assert [o.name for o in client.get("/console/people/organizations/?q=glob").context["organizations"]] == [
        "Globex"
    ]
    r = client.post(
        f"/console/people/organizations/{desk.acme.pk}/",
        {"name": "Acme Inc", "domains": "acme.test\n@Acme-Shop.test", "tier": "platinum"},
    )
    assert r.status_code == 302
    acme = Organization.objects.get(pk=desk.acme.pk)
    assert (acme.name, acme.domains, acme.tier, acme.vip) == (
        "Acme Inc",
        ["acme.test", "acme-shop.test"],
        "platinum",
        False,
    )


def test_a_domain_of_another_organization_is_refused(desk: Any, browser: Any) -> None:
    organization_create(name="Globex", domains=["globex.test"])
    r = browser(desk.admin).post(
        f"/console/people/organizations/{desk.acme.pk}/",
        {"name": "Acme", "domains": "acme.test\nglobex.test", "tier": "gold", "vip": "on"},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "One of these domains belongs to another organization" in html
    assert "globex.test" in html
    assert Organization.objects.get(pk=desk.acme.pk).domains == ["acme.test"]
    bad = browser(desk.admin).post(
        f"/console/people/organizations/{desk.acme.pk}/",
        {"name": "Acme", "domains": "not a domain", "tier": "gold"},
    )
    assert bad.status_code == 422
    assert "Enter e-mail domains such as acme.com" in bad.content.decode()


@pytest.mark.parametrize(
    "path", ["/console/people/contacts/999999/", "/console/people/organizations/999999/"]
)
def test_unknown_ones_are_404(desk: Any, browser: Any, path: str) -> None:
    assert browser(desk.admin).get(path).status_code == 404
