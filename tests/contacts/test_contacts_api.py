"""`/api/v1/contacts` and `/organizations`: customers, who may change them, and the rules."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.contacts.models import Contact, Organization
from testing import expect

# --------------------------------------------------------------------------------------------
# Authorisation matrix


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=200, outsider=200, anonymous=401, revoked=401)
)
@pytest.mark.parametrize(
    "path", ["/contacts", "/contacts/{alice}", "/organizations", "/organizations/{acme}"]
)
def test_every_agent_reads_customers(desk: Any, as_role: Any, path: str, role: str, status: int) -> None:
    # given a client for the role; when it reads customers
    r = as_role(role).get(path.format(alice=desk.alice.pk, acme=desk.acme.pk))
    # then every agent may, and no token (or a revoked one) may not
    assert r.status_code == status, r.content


WRITERS = expect(admin=201, agent=201, light=403, outsider=201, anonymous=401, revoked=401)
CHANGERS = expect(admin=200, agent=200, light=403, outsider=200, anonymous=401, revoked=401)


@pytest.mark.parametrize(("role", "status"), WRITERS)
def test_admins_and_agents_create_contacts_light_agents_do_not(
    desk: Any, as_role: Any, role: str, status: int
) -> None:
    r = as_role(role).post("/contacts", {"email": "carla@example.test"})
    assert r.status_code == status, r.content
    assert Contact.objects.filter(email="carla@example.test").exists() is (status == 201)


@pytest.mark.parametrize(("role", "status"), CHANGERS)
def test_admins_and_agents_change_contacts_light_agents_do_not(
    desk: Any, as_role: Any, role: str, status: int
) -> None:
    r = as_role(role).patch(f"/contacts/{desk.bob.pk}", {"name": "Robert Example"})
    assert r.status_code == status, r.content
    desk.bob.refresh_from_db()
    assert desk.bob.name == ("Robert Example" if status == 200 else "Bob Example")


@pytest.mark.parametrize(("role", "status"), WRITERS)
def test_admins_and_agents_create_organizations_light_agents_do_not(
    desk: Any, as_role: Any, role: str, status: int
) -> None:
    r = as_role(role).post("/organizations", {"name": "Globex"})
    assert r.status_code == status, r.content
    assert Organization.objects.filter(name="Globex").exists() is (status == 201)


@pytest.mark.parametrize(("role", "status"), CHANGERS)
def test_admins_and_agents_change_organizations_light_agents_do_not(
    desk: Any, as_role: Any, role: str, status: int
) -> None:
    r = as_role(role).patch(f"/organizations/{desk.acme.pk}", {"tier": "platinum"})
    assert r.status_code == status, r.content
    desk.acme.refresh_from_db()
    assert desk.acme.tier == ("platinum" if status == 200 else "gold")


def test_a_light_agent_is_told_why_they_cannot_write(desk: Any, api: Any) -> None:
    r = api(desk.light).post("/contacts", {"email": "carla@example.test"})
    assert r.json() == {
        "error": {
            "code": "permission_denied",
            "message": "light agents can read customers but not change them",
            "field": None,
        }
    }


# --------------------------------------------------------------------------------------------
# Contacts


def test_a_new_contact_joins_the_organization_owning_its_email_domain(desk: Any, api: Any) -> None:
    # given Acme owns acme.test
    # when an agent adds carla@ACME.test without an organization
    r = api(desk.agent).post("/contacts", {"email": "Carla@ACME.test", "name": "Carla"})
    # then the address is stored lower-case and Carla is in Acme
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["email"], body["name"], body["organization_id"], body["vip"]) == (
        "carla@acme.test",
        "Carla",
        desk.acme.pk,
        False,
    )


def test_an_explicit_organization_wins_over_the_email_domain(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    globex = client.post("/organizations", {"name": "Globex"}).json()
    r = client.post("/contacts", {"email": "dan@acme.test", "organization_id": globex["id"]})
    assert r.status_code == 201
    assert r.json()["organization_id"] == globex["id"]


def test_a_contact_without_a_known_domain_has_no_organization(desk: Any, api: Any) -> None:
    r = api(desk.agent).post("/contacts", {"email": "erin@nowhere.test"})
    assert r.json()["organization_id"] is None


def test_a_contact_email_is_unique_whatever_its_case(desk: Any, api: Any) -> None:
    # given Alice's address alice@acme.test
    client = api(desk.agent)
    # when creating ALICE@acme.test
    r = client.post("/contacts", {"email": "ALICE@acme.test"})
    # then it is a conflict naming the e-mail, and nothing is added
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "email"
    assert Contact.objects.count() == 2
    # and changing Bob's address to Alice's is refused the same way
    r = client.patch(f"/contacts/{desk.bob.pk}", {"email": "Alice@Acme.Test"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "email"
    desk.bob.refresh_from_db()
    assert desk.bob.email == "bob@example.test"


def test_patch_changes_only_what_is_sent(desk: Any, api: Any) -> None:
    r = api(desk.agent).patch(
        f"/contacts/{desk.alice.pk}", {"phone": "+39 06 123", "vip": True, "time_zone": "Europe/Rome"}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["email"], body["name"], body["phone"], body["vip"], body["time_zone"]) == (
        "alice@acme.test",
        "Alice Acme",
        "+39 06 123",
        True,
        "Europe/Rome",
    )
    assert body["organization_id"] == desk.acme.pk


def test_patch_with_a_null_organization_removes_it(desk: Any, api: Any) -> None:
    r = api(desk.agent).patch(f"/contacts/{desk.alice.pk}", {"organization_id": None})
    assert r.status_code == 200
    assert r.json()["organization_id"] is None
    desk.alice.refresh_from_db()
    assert desk.alice.organization_id is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "nul\x00@example.test"}, "email"),
        ({"email": "a" * 300 + "@example.test"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "c@example.test", "name": "x" * 201}, "name"),
        ({"email": "c@example.test", "name": "c\x00"}, "name"),
        ({"email": "c@example.test", "phone": "1" * 41}, "phone"),
        ({"email": "c@example.test", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "c@example.test", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"email": "c@example.test", "language": "en us"}, "language"),
        ({"email": "c@example.test", "vip": "maybe"}, "vip"),
        ({"email": "c@example.test", "organization_id": 999999}, "organization_id"),
        ({"email": "c@example.test", "organization_id": 99999999999999999999999}, "organization_id"),
        ({"email": "c@example.test", "shoe_size": 42}, "shoe_size"),
    ],
)
def test_bad_contact_input_is_a_422_naming_the_field(
    desk: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    r = api(desk.agent).post("/contacts", payload)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert Contact.objects.count() == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["alice", "bob", "carla", "dora"]),
        ({"q": "ACME"}, ["alice", "carla"]),
        ({"q": "exam"}, ["bob"]),
        ({"q": "Dora"}, ["dora"]),
        ({"vip": "true"}, ["dora"]),
        ({"vip": "false"}, ["alice", "bob", "carla"]),
        ({"organization_id": "acme"}, ["alice", "carla"]),
        ({"organization_id": "acme", "q": "carla"}, ["carla"]),
        ({"q": "%"}, []),
        ({"sort": "-email"}, ["dora", "carla", "bob", "alice"]),
    ],
)
def test_contacts_are_filtered_by_substring_organization_and_vip(
    desk: Any, api: Any, params: dict[str, str], expected: list[str]
) -> None:
    # given four contacts, two at Acme, one VIP
    client = api(desk.agent)
    assert client.post("/contacts", {"email": "carla@acme.test", "name": "Carla C"}).status_code == 201
    assert (
        client.post("/contacts", {"email": "d@free.test", "name": "Dora D", "vip": True}).status_code == 201
    )
    if params.get("organization_id") == "acme":
        params = {**params, "organization_id": str(desk.acme.pk)}
    # when listing with the filters
    r = client.get("/contacts", params)
    # then exactly the matching contacts come back
    assert r.status_code == 200, r.content
    names = [c["name"].split()[0].lower() for c in r.json()["items"]]
    assert names == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a\x00"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"organization_id": "x"}, "organization_id"),
        ({"vip": "perhaps"}, "vip"),
        ({"sort": "phone"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_contact_filters_are_a_422(desk: Any, api: Any, params: dict[str, str], field: str) -> None:
    r = api(desk.agent).get("/contacts", params)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field


def test_contacts_page_with_a_cursor_without_gaps_or_repeats(desk: Any, api: Any) -> None:
    # given 7 contacts
    client = api(desk.agent)
    for i in range(5):
        assert client.post("/contacts", {"email": f"c{i}@example.test"}).status_code == 201
    # when paging 3 at a time by name
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": "name"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/contacts", params).json()
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # then three pages hold every contact once
    assert pages == 3
    assert sorted(seen) == sorted(Contact.objects.values_list("pk", flat=True))
    assert len(seen) == 7


def test_listing_contacts_takes_a_fixed_number_of_queries(
    desk: Any, api: Any, django_assert_num_queries: Any
) -> None:
    client = api(desk.agent)
    for i in range(5):
        assert client.post("/contacts", {"email": f"c{i}@acme.test"}).status_code == 201
    # when listing: token lookup, then one query for the page
    with django_assert_num_queries(2):
        r = client.get("/contacts")
    assert len(r.json()["items"]) == 7


@pytest.mark.parametrize("path", ["/contacts/999999", "/contacts/99999999999999999999999"])
def test_an_unknown_contact_is_a_404(desk: Any, api: Any, path: str) -> None:
    r = api(desk.agent).get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_a_contact_id_that_is_not_a_number_is_a_422(desk: Any, api: Any) -> None:
    r = api(desk.agent).get("/contacts/x")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "contact_id"


# --------------------------------------------------------------------------------------------
# Organizations


def test_an_organization_is_created_with_tidy_domains(desk: Any, api: Any) -> None:
    r = api(desk.agent).post(
        "/organizations",
        {"name": " Globex  Corp ", "domains": ["@Globex.test", "globex.test", "GLOBEX.example"], "vip": True},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["name"], body["domains"], body["tier"], body["vip"]) == (
        "Globex Corp",
        ["globex.test", "globex.example"],
        "standard",
        True,
    )


def test_an_organization_name_is_unique_whatever_its_case(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    r = client.post("/organizations", {"name": "ACME"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "name"
    globex = client.post("/organizations", {"name": "Globex"}).json()
    r = client.patch(f"/organizations/{globex['id']}", {"name": "acme"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "name"
    assert Organization.objects.get(pk=globex["id"]).name == "Globex"


def test_an_email_domain_belongs_to_one_organization(desk: Any, api: Any) -> None:
    r = api(desk.agent).post("/organizations", {"name": "Globex", "domains": ["ACME.test"]})
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "conflict",
        "message": "the domain acme.test belongs to the organization Acme",
        "field": "domains",
    }


def test_an_organization_keeps_its_own_domains_when_changed(desk: Any, api: Any) -> None:
    r = api(desk.agent).patch(f"/organizations/{desk.acme.pk}", {"domains": ["acme.test", "acme.example"]})
    assert r.status_code == 200
    assert r.json()["domains"] == ["acme.test", "acme.example"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "N\x00"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "N", "tier": "diamond"}, "tier"),
        ({"name": "N", "domains": ["no dots"]}, "domains"),
        ({"name": "N", "domains": ["a@b.test"]}, "domains"),
        ({"name": "N", "domains": "acme.test"}, "domains"),
        ({"name": "N", "domains": [7]}, "domains.0"),
        ({"name": "N", "notes": "x\x00"}, "notes"),
    ],
)
def test_bad_organization_input_is_a_422_naming_the_field(
    desk: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    r = api(desk.agent).post("/organizations", payload)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field
    assert Organization.objects.count() == 1


def test_organizations_are_filtered_by_name_tier_and_vip(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    assert client.post("/organizations", {"name": "Globex", "tier": "silver"}).status_code == 201
    assert client.post("/organizations", {"name": "Initech"}).status_code == 201

    def names(**params: Any) -> list[str]:
        r = client.get("/organizations", params)
        assert r.status_code == 200, r.content
        return [o["name"] for o in r.json()["items"]]

    assert names() == ["Acme", "Globex", "Initech"]
    assert names(q="GLO") == ["Globex"]
    assert names(tier="silver") == ["Globex"]
    assert names(vip="true") == ["Acme"]
    assert names(sort="-name") == ["Initech", "Globex", "Acme"]
    r = client.get("/organizations", {"tier": "diamond"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "tier"


def test_an_unknown_organization_is_a_404(desk: Any, api: Any) -> None:
    assert api(desk.agent).get("/organizations/999999").status_code == 404
    assert api(desk.agent).patch("/organizations/999999", {"vip": True}).status_code == 404


# --------------------------------------------------------------------------------------------
# Hostile input never causes a server error

HOSTILE: list[Any] = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 100_001,
    "",
    "   ",
    "😀" * 200,
    "a@b@c",
    "@acme.test",
    2**70,
    -1,
    1.5,
    True,
    None,
    [],
    {},
    ["\x00"],
    ["\ud800.test"],
]


def test_hostile_values_in_customer_writes_never_cause_a_server_error(desk: Any, api: Any) -> None:
    # given an agent, who may reach every customer write
    client = api(desk.agent)
    writes = [
        (
            "post",
            "/contacts",
            {
                "email": "new@example.test",
                "name": "N",
                "phone": "1",
                "language": "en",
                "time_zone": "UTC",
                "vip": False,
                "organization_id": desk.acme.pk,
            },
        ),
        ("patch", f"/contacts/{desk.bob.pk}", {"email": "bob2@example.test", "organization_id": None}),
        (
            "post",
            "/organizations",
            {"name": "Org", "domains": ["org.test"], "tier": "gold", "vip": True, "notes": "n"},
        ),
        ("patch", f"/organizations/{desk.acme.pk}", {"name": "Acme", "domains": ["acme.test"]}),
    ]
    failures = []
    # when each field of each write gets each hostile value
    for method, path, body in writes:
        for key in body:
            for value in HOSTILE:
                r = client._call(method, path, {**body, key: value})
                if r.status_code >= 500 or (
                    r.status_code >= 400 and set(r.json()["error"]) < {"code", "message", "field"}
                ):
                    failures.append(f"{method} {path} {key}={value!r:.40}: {r.status_code}")
    # then every answer is a clean 2xx or 4xx
    assert failures == []


@pytest.mark.parametrize("param", ["q", "organization_id", "vip", "sort", "cursor", "limit"])
def test_hostile_contact_filters_are_a_4xx(desk: Any, api: Any, param: str) -> None:
    client = api(desk.agent)
    for value in ("\x00", "9" * 40, "-1", "x" * 5000, "%_\\", "eyJ4IjoxfQ"):
        r = client.get("/contacts", {param: value})
        assert r.status_code in (200, 422), (value, r.content)
        r = client.get("/organizations", {"q" if param == "organization_id" else param: value})
        assert r.status_code in (200, 422), (value, r.content)
    # bytes that are not UTF-8 at all, as a raw query string
    for raw in ("%ED%A0%80", "%FF%FE", "%C0%80"):
        r = client.get(f"/contacts?{param}={raw}")
        assert r.status_code in (200, 422), (raw, r.content)
