"""`/api/v1/fields` and `/departments/{id}/layout`: custom-field definitions and layouts."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.tickets.models import CustomField, LayoutField
from testing import expect

SUBCATEGORY: dict[str, Any] = {
    "key": "subcategory",
    "label": "Subcategory",
    "type": "picklist",
    "options": [
        {"value": "novels", "label": "Novels"},
        {"value": "textbooks", "label": "Textbooks"},
        {"value": "phones", "label": "Phones"},
        {"value": "laptops", "label": "Laptops"},
    ],
}


@pytest.fixture
def subcategory(desk: Any, api: Any) -> dict[str, Any]:
    """The `subcategory` picklist; Books allows novels and textbooks, Electronics every value."""
    admin = api(desk.admin)
    r = admin.post("/fields", SUBCATEGORY)
    assert r.status_code == 201, r.content
    r = admin.put(
        f"/departments/{desk.books.pk}/layout",
        {"fields": [{"field": "subcategory", "allowed_values": ["novels", "textbooks"]}]},
    )
    assert r.status_code == 200, r.content
    r = admin.put(f"/departments/{desk.electronics.pk}/layout", {"fields": [{"field": "subcategory"}]})
    assert r.status_code == 200, r.content
    return admin.get("/fields/subcategory").json()


# --------------------------------------------------------------------------------------------
# Authorisation matrix


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=200, outsider=200, anonymous=401, revoked=401)
)
@pytest.mark.parametrize("path", ["/fields", "/fields/subcategory", "/fields/{id}"])
def test_every_agent_reads_field_definitions(
    subcategory: dict[str, Any], as_role: Any, path: str, role: str, status: int
) -> None:
    r = as_role(role).get(path.format(id=subcategory["id"]))
    assert r.status_code == status, r.content


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=201, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_define_fields(desk: Any, as_role: Any, role: str, status: int) -> None:
    r = as_role(role).post("/fields", {"key": "isbn", "label": "ISBN", "type": "text"})
    assert r.status_code == status, r.content
    assert CustomField.objects.filter(key="isbn").exists() is (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_change_fields(subcategory: dict[str, Any], as_role: Any, role: str, status: int) -> None:
    r = as_role(role).patch("/fields/subcategory", {"label": "Kind"})
    assert r.status_code == status, r.content
    assert CustomField.objects.get(key="subcategory").label == ("Kind" if status == 200 else "Subcategory")


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=200, light=200, outsider=403, anonymous=401, revoked=401)
)
def test_a_layout_is_read_by_admins_and_the_departments_agents(
    desk: Any, subcategory: dict[str, Any], as_role: Any, role: str, status: int
) -> None:
    # given the Books layout; when the role reads it
    r = as_role(role).get(f"/departments/{desk.books.pk}/layout")
    # then admins and Books agents (light ones too) may; the Electronics agent may not
    assert r.status_code == status, r.content


@pytest.mark.parametrize(
    ("role", "status"), expect(admin=200, agent=403, light=403, outsider=403, anonymous=401, revoked=401)
)
def test_only_admins_replace_a_layout(
    desk: Any, subcategory: dict[str, Any], as_role: Any, role: str, status: int
) -> None:
    r = as_role(role).put(f"/departments/{desk.books.pk}/layout", {"fields": []})
    assert r.status_code == status, r.content
    assert LayoutField.objects.filter(department=desk.books).count() == (0 if status == 200 else 1)


# --------------------------------------------------------------------------------------------
# Field definitions


def test_a_picklist_is_defined_and_read_back_by_key_and_by_id(desk: Any, api: Any) -> None:
    # when the admin defines the subcategory picklist, one label left out
    payload = {**SUBCATEGORY, "options": [{"value": "novels"}, {"value": "phones", "label": "Phones"}]}
    r = api(desk.admin).post("/fields", payload)
    # then the missing label defaults to the value
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["key"], body["type"], body["options"], body["is_active"]) == (
        "subcategory",
        "picklist",
        [{"value": "novels", "label": "novels"}, {"value": "phones", "label": "Phones"}],
        True,
    )
    reader = api(desk.light)
    assert reader.get("/fields/subcategory").json() == body
    assert reader.get(f"/fields/{body['id']}").json() == body
    assert [f["key"] for f in reader.get("/fields").json()["items"]] == ["subcategory"]


@pytest.mark.parametrize(
    "field_type", ["text", "long_text", "number", "decimal", "date", "datetime", "boolean"]
)
def test_every_plain_type_is_defined_without_options(desk: Any, api: Any, field_type: str) -> None:
    r = api(desk.admin).post("/fields", {"key": f"f_{field_type}", "label": field_type, "type": field_type})
    assert r.status_code == 201, r.content
    assert (r.json()["type"], r.json()["options"]) == (field_type, [])


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"key": "Bad"}, 422, "key"),
        ({"key": "1st"}, 422, "key"),
        ({"key": "has-dash"}, 422, "key"),
        ({"key": "a" * 64}, 422, "key"),
        ({"key": "a\x00"}, 422, "key"),
        ({"key": "subcategory"}, 409, "key"),
        ({"type": "colour"}, 422, "type"),
        ({"type": "text"}, 422, "options"),
        ({"options": []}, 422, "options"),
        ({"options": [{"value": "a"}, {"value": "a"}]}, 422, "options.1.value"),
        ({"options": [{"value": " "}]}, 422, "options.0.value"),
        ({"options": [{"value": "a\x00"}]}, 422, "options.0.value"),
        ({"options": [{"value": "x" * 101}]}, 422, "options.0.value"),
        ({"options": [{"label": "no value"}]}, 422, "options.0.value"),
        ({"options": ["novels"]}, 422, "options.0"),
        ({"label": ""}, 422, "label"),
        ({"label": "x" * 121}, 422, "label"),
        ({"position": -1}, 422, "position"),
        ({"position": "first"}, 422, "position"),
        ({"owner": "me"}, 422, "owner"),
    ],
)
def test_bad_field_definitions_are_refused_naming_the_field(
    desk: Any, api: Any, subcategory: dict[str, Any], payload: dict[str, Any], status: int, field: str
) -> None:
    # given the subcategory field exists
    body = {"key": "kind", "label": "Kind", "type": "picklist", "options": [{"value": "a"}], **payload}
    # when the admin defines a field with one bad part
    r = api(desk.admin).post("/fields", body)
    # then it is refused naming that part, and nothing is added
    assert r.status_code == status, r.content
    assert r.json()["error"]["field"] == field
    assert CustomField.objects.count() == 1


def test_a_fields_key_and_type_never_change(desk: Any, api: Any, subcategory: dict[str, Any]) -> None:
    client = api(desk.admin)
    r = client.patch("/fields/subcategory", {"key": "kind"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed",
        "message": "a field's key cannot be changed",
        "field": "key",
    }
    r = client.patch("/fields/subcategory", {"type": "multi_select"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "type"
    # sending the current values is harmless
    r = client.patch("/fields/subcategory", {"key": "subcategory", "type": "picklist", "label": "Kind"})
    assert r.status_code == 200
    assert (r.json()["key"], r.json()["label"]) == ("subcategory", "Kind")


def test_removing_an_option_a_layout_allows_is_refused(
    desk: Any, api: Any, subcategory: dict[str, Any]
) -> None:
    # given Books allows novels and textbooks
    # when the admin removes textbooks from the field
    options = [o for o in SUBCATEGORY["options"] if o["value"] != "textbooks"]
    r = api(desk.admin).patch("/fields/subcategory", {"options": options})
    # then it is a conflict naming Books, and the field and layout are unchanged
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "conflict",
        "message": "cannot remove the option 'textbooks': the layout of Books allows it; "
        "remove it from that layout first",
        "field": "options",
    }
    field = CustomField.objects.get(key="subcategory")
    assert [o["value"] for o in field.options] == ["novels", "textbooks", "phones", "laptops"]
    assert LayoutField.objects.get(department=desk.books).allowed_values == ["novels", "textbooks"]


def test_removing_an_option_no_layout_lists_is_allowed(
    desk: Any, api: Any, subcategory: dict[str, Any]
) -> None:
    # given Electronics allows every value (null) and Books does not list laptops
    options = [o for o in SUBCATEGORY["options"] if o["value"] != "laptops"]
    # when the admin removes laptops and relabels novels
    options[0] = {"value": "novels", "label": "Fiction"}
    r = api(desk.admin).patch("/fields/subcategory", {"options": options})
    # then the field has three options
    assert r.status_code == 200, r.content
    assert r.json()["options"] == [
        {"value": "novels", "label": "Fiction"},
        {"value": "textbooks", "label": "Textbooks"},
        {"value": "phones", "label": "Phones"},
    ]


def test_a_field_is_deactivated_and_listed_by_activity(
    desk: Any, api: Any, subcategory: dict[str, Any]
) -> None:
    client = api(desk.admin)
    assert client.post("/fields", {"key": "isbn", "label": "ISBN", "type": "text"}).status_code == 201
    assert client.patch("/fields/isbn", {"is_active": False}).json()["is_active"] is False
    active = client.get("/fields", {"is_active": "true"}).json()["items"]
    assert [f["key"] for f in active] == ["subcategory"]


@pytest.mark.parametrize("ref", ["missing", "999999", "99999999999999999999999", "Bad-Key"])
def test_an_unknown_field_is_a_404(desk: Any, api: Any, ref: str) -> None:
    r = api(desk.agent).get(f"/fields/{ref}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------------------------
# Layouts


def test_a_layout_is_replaced_whole_and_read_back(desk: Any, api: Any, subcategory: dict[str, Any]) -> None:
    # given a text field next to subcategory
    client = api(desk.admin)
    isbn = client.post("/fields", {"key": "isbn", "label": "ISBN", "type": "text"}).json()
    # when Books' layout becomes isbn (required) then subcategory, values given out of order
    r = client.put(
        f"/departments/{desk.books.pk}/layout",
        {
            "fields": [
                {"field": "isbn", "required": True},
                {"field": "subcategory", "allowed_values": ["textbooks", "novels", "textbooks"]},
            ]
        },
    )
    # then the layout holds exactly those rows, values in the field's order without repeats
    assert r.status_code == 200, r.content
    expected = {
        "department_id": desk.books.pk,
        "fields": [
            {
                "field": "isbn",
                "field_id": isbn["id"],
                "label": "ISBN",
                "type": "text",
                "required": "always",
                "required_from_customer": False,
                "customer_access": "edit",
                "position": 0,
                "allowed_values": None,
            },
            {
                "field": "subcategory",
                "field_id": subcategory["id"],
                "label": "Subcategory",
                "type": "picklist",
                "required": "none",
                "required_from_customer": False,
                "customer_access": "edit",
                "position": 1,
                "allowed_values": ["novels", "textbooks"],
            },
        ],
    }
    assert r.json() == expected
    assert api(desk.agent).get(f"/departments/{desk.books.pk}/layout").json() == expected
    # and an empty list clears it
    assert client.put(f"/departments/{desk.books.pk}/layout", {"fields": []}).json()["fields"] == []


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        (
            [{"field": "subcategory", "allowed_values": ["novels", "tablets"]}],
            "fields.subcategory.allowed_values",
            "'tablets' is not an option of subcategory",
        ),
        (
            [{"field": "subcategory", "allowed_values": []}],
            "fields.subcategory.allowed_values",
            "give at least one value of subcategory, or null to allow them all",
        ),
        (
            [{"field": "isbn", "allowed_values": ["x"]}],
            "fields.isbn.allowed_values",
            "isbn is a text field; only picklists and multi-selects take allowed_values",
        ),
        ([{"field": "nope"}], "fields.0.field", "no custom field with key 'nope'"),
        (
            [{"field": "isbn"}, {"field": "isbn"}],
            "fields.1.field",
            "'isbn' is listed twice",
        ),
        ([{"field": "isbn", "position": 40_000}], "fields.0.position", "must be between 0 and 32767"),
    ],
)
def test_a_bad_layout_is_a_422_naming_the_field_and_the_old_layout_stays(
    desk: Any, api: Any, subcategory: dict[str, Any], rows: list[Any], field: str, message: str
) -> None:
    # given Books allows novels and textbooks
    client = api(desk.admin)
    assert client.post("/fields", {"key": "isbn", "label": "ISBN", "type": "text"}).status_code == 201
    # when the admin sends a layout with one bad row
    r = client.put(f"/departments/{desk.books.pk}/layout", {"fields": rows})
    # then it is refused naming the field, and Books keeps its layout
    assert r.status_code == 422, r.content
    assert r.json()["error"] == {"code": "validation_failed", "message": message, "field": field}
    rows_now = list(
        LayoutField.objects.filter(department=desk.books).values_list("allowed_values", flat=True)
    )
    assert rows_now == [["novels", "textbooks"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "fields"),
        ({"fields": "subcategory"}, "fields"),
        ({"fields": [{"field": "subcategory", "required": "yes please"}]}, "fields.0.required"),
        ({"fields": [{"field": 7}]}, "fields.0.field"),
        ({"fields": [{"field": "a\x00"}]}, "fields.0.field"),
        ({"fields": [{"field": "subcategory", "allowed_values": "novels"}]}, "fields.0.allowed_values"),
    ],
)
def test_a_malformed_layout_body_is_a_422(
    desk: Any, api: Any, subcategory: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    r = api(desk.admin).put(f"/departments/{desk.books.pk}/layout", body)
    assert r.status_code == 422, r.content
    assert r.json()["error"]["field"] == field


@pytest.mark.parametrize("department_id", ["999999", "99999999999999999999999"])
def test_the_layout_of_an_unknown_department_is_a_404(desk: Any, api: Any, department_id: str) -> None:
    assert api(desk.admin).get(f"/departments/{department_id}/layout").status_code == 404
    assert api(desk.admin).put(f"/departments/{department_id}/layout", {"fields": []}).status_code == 404


# --------------------------------------------------------------------------------------------
# Hostile input never causes a server error

HOSTILE: list[Any] = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 100_001,
    "",
    "😀" * 200,
    2**70,
    -1,
    1.5,
    True,
    None,
    [],
    {},
    ["\x00"],
    [{"value": "\ud800"}],
    [{"value": 1}],
]


def test_hostile_values_in_field_and_layout_writes_never_cause_a_server_error(
    desk: Any, api: Any, subcategory: dict[str, Any]
) -> None:
    # given the admin and the subcategory field
    client = api(desk.admin)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        (
            "post",
            "/fields",
            {
                "key": "kind",
                "label": "Kind",
                "type": "picklist",
                "options": [{"value": "a", "label": "A"}],
                "description": "",
                "position": 1,
            },
        ),
        ("patch", "/fields/subcategory", {"label": "Sub", "options": SUBCATEGORY["options"], "position": 2}),
        ("put", f"/departments/{desk.books.pk}/layout", {"fields": [{"field": "subcategory"}]}),
    ]
    row = {"field": "subcategory", "required": False, "position": 0, "allowed_values": ["novels"]}
    failures = []

    def check(method: str, path: str, body: Any, label: str) -> None:
        r = client._call(method, path, body)
        if r.status_code >= 500 or (
            r.status_code >= 400 and set(r.json()["error"]) < {"code", "message", "field"}
        ):
            failures.append(f"{method} {path} {label}: {r.status_code}")

    # when each field of each write, and of a layout row, gets each hostile value
    for method, path, body in writes:
        for key in body:
            for value in HOSTILE:
                check(method, path, {**body, key: value}, f"{key}={value!r:.40}")
    for key in row:
        for value in HOSTILE:
            body = {"fields": [{**row, key: value}]}
            check("put", f"/departments/{desk.books.pk}/layout", body, f"row.{key}={value!r:.40}")
    # then every answer is a clean 2xx or 4xx
    assert failures == []


def test_hostile_field_references_are_a_404(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    for ref in ("%00", "a%00", "%ED%A0%80", "9" * 40, "x" * 5000, "..", "%25"):
        r = client.get(f"/fields/{ref}")
        assert r.status_code == 404, (ref, r.content)
