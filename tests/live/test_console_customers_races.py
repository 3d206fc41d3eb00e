"""Creating contacts and organizations in the Console, and editing them, at a live server, on
SQLite and on PostgreSQL, under requests fired at once: many creations of one e-mail address (or
one organization name) create one, the others told it is taken; many saves drawn from the same
page (the same fingerprint) store exactly one, the others refused as stale with nothing written."""

from __future__ import annotations

import re

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_console_contacts_races import post
from .test_me_races import shell, signed_in

pytestmark = LIVE

N = 6
READ_CONTACTS = (
    "import json; from sportello.contacts.models import Contact as C; "
    "print(json.dumps([[c.pk, c.name, c.email] for c in C.objects.filter(email__iexact={email!r})]))"
)
READ_CONTACT = (
    "import json; from sportello.contacts.models import Contact as C; "
    "print(json.dumps([[c.name, c.phone, c.vip] for c in C.objects.filter(pk={pk})]))"
)
READ_ORGS = (
    "import json; from sportello.contacts.models import Organization as O; "
    "print(json.dumps([[o.pk, o.name, o.domains, o.tier] for o in O.objects.filter(name__iexact={name!r})]))"
)
READ_ORG = (
    "import json; from sportello.contacts.models import Organization as O; "
    "print(json.dumps([[o.name, o.domains, o.tier] for o in O.objects.filter(pk={pk})]))"
)
STALE = "Someone else changed this while you were editing it: nothing was saved."


def fingerprint(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    found = re.search(r'name="expected" value="([0-9a-f]+)"', page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def test_many_creations_of_one_address_create_one_contact(live: LiveDesk) -> None:
    client = signed_in(live)
    email = "create-race@live.test"
    replies = live.race(
        N,
        lambda i: post(
            client, "/console/people/contacts/new/", {"name": f"Racer {i}", "email": email.upper()}
        ),
    )
    won = [i for i, r in enumerate(replies) if r.status == 302]
    assert len(won) == 1, replies
    rows = shell(live, READ_CONTACTS.format(email=email))
    assert len(rows) == 1
    [pk, name, stored] = rows[0]
    assert (name, stored) == (f"Racer {won[0]}", email)
    assert replies[won[0]].body["location"] == f"/console/people/contacts/{pk}/"
    for i, r in enumerate(replies):
        if i in won:
            continue
        assert r.status == 422, r
        assert "Another contact has this e-mail address." in r.body["text"]
        assert f'href="/console/people/contacts/{pk}/"' in r.body["text"]
        assert f'value="Racer {i}"' in r.body["text"]


def test_many_creations_of_one_name_create_one_organization(live: LiveDesk) -> None:
    client = signed_in(live)
    replies = live.race(
        N,
        lambda i: post(
            client,
            "/console/people/organizations/new/",
            {"name": "Race Corp", "domains": f"race{i}.test", "tier": "gold"},
        ),
    )
    won = [i for i, r in enumerate(replies) if r.status == 302]
    assert len(won) == 1, replies
    rows = shell(live, READ_ORGS.format(name="Race Corp"))
    assert len(rows) == 1
    [pk, _name, domains, tier] = rows[0]
    assert (domains, tier) == ([f"race{won[0]}.test"], "gold")
    for i, r in enumerate(replies):
        if i not in won:
            assert r.status == 422, r
            assert "Another organization has this name." in r.body["text"]
            assert f'href="/console/people/organizations/{pk}/"' in r.body["text"]


def test_many_saves_of_one_contact_page_store_one(live: LiveDesk) -> None:
    pk = live.contact("stale-race@live.test")["id"]
    client = signed_in(live)
    path = f"/console/people/contacts/{pk}/"
    expected = fingerprint(client, path)

    def save(i: int) -> Reply:
        form = {
            "name": f"Editor {i}",
            "email": "stale-race@live.test",
            "phone": f"+39 02 {i}",
            "expected": expected,
        }
        return post(client, path, form)

    replies = live.race(N, save)
    won = [i for i, r in enumerate(replies) if r.status == 302]
    assert len(won) == 1, replies
    assert shell(live, READ_CONTACT.format(pk=pk)) == [[f"Editor {won[0]}", f"+39 02 {won[0]}", False]]
    for i, r in enumerate(replies):
        if i not in won:
            assert r.status == 409, r
            assert STALE in r.body["text"]
            assert f'value="Editor {i}"' in r.body["text"]


def test_many_saves_of_one_organization_page_store_one(live: LiveDesk) -> None:
    client = signed_in(live)
    created = post(client, "/console/people/organizations/new/", {"name": "Stale Org", "tier": "standard"})
    assert created.status == 302, created
    path = created.body["location"]
    pk = int(path.rstrip("/").rsplit("/", 1)[-1])
    expected = fingerprint(client, path)
    tiers = ["silver", "gold", "platinum"]

    def save(i: int) -> Reply:
        form = {"name": f"Stale Org {i}", "domains": "", "tier": tiers[i % 3], "expected": expected}
        return post(client, path, form)

    replies = live.race(N, save)
    won = [i for i, r in enumerate(replies) if r.status == 302]
    assert len(won) == 1, replies
    assert shell(live, READ_ORG.format(pk=pk)) == [[f"Stale Org {won[0]}", [], tiers[won[0] % 3]]]
    for r in replies:
        if r.status != 302:
            assert r.status == 409, r
            assert STALE in r.body["text"]
