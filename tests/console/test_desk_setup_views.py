"""The Console's desk set-up: departments (list, create, edit), statuses (listed per category),
custom fields (list, create, edit: label, values added, renamed, reordered, retired, help text)
and a department's layout (order, requirements, per-department values) with its preview, all
admins only, every write through the API's services, refusals inline with what was typed kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.accounts.models import Department
from sportello.tickets.fields_services import LayoutRowSpec, layout_fingerprint, layout_get, layout_replace
from sportello.tickets.models import CustomField, LayoutField

PAGES = [
    "/console/departments/",
    "/console/departments/{books}/",
    "/console/departments/{books}/layout/",
    "/console/statuses/",
    "/console/fields/",
    "/console/fields/new/",
    "/console/fields/{field}/",
]


def _path(path: str, desk: Any) -> str:
    field = CustomField.objects.get(key="subcategory")
    return path.format(books=desk.books.pk, field=field.pk)


def layout_post(department: Department, rows: list[Any], **extra: Any) -> dict[str, Any]:
    """The editor's post for `rows` (each: key, and optionally req, cust, vals, later)."""
    saved = layout_get(department=department)
    data: dict[str, Any] = {"fingerprint": layout_fingerprint(saved), "row": [r["key"] for r in rows]}
    for r in rows:
        key = r["key"]
        data[f"req-{key}"] = r.get("req", "none")
        if r.get("cust"):
            data[f"cust-{key}"] = "on"
        if "vals" in r:
            data[f"val-{key}"] = r["vals"]
        if r.get("later"):
            data[f"later-{key}"] = "on"
    data.update(extra)
    return data


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_opens_every_page(desk: Any, layouts: Any, browser: Any, path: str) -> None:
    r = browser(desk.admin).get(_path(path, desk))
    assert r.status_code == 200
    assert '<nav class="console-nav"' in r.content.decode()


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light"])
def test_agents_get_the_403_page(
    desk: Any, layouts: Any, browser: Any, settings: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    r = browser(getattr(desk, role)).get(_path(path, desk))
    assert r.status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(desk: Any, layouts: Any, path: str) -> None:
    r = Client().get(_path(path, desk))
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=")


def test_an_agent_cannot_write(desk: Any, layouts: Any, browser: Any) -> None:
    client = browser(desk.agent)
    assert client.post("/console/departments/", {"name": "Sneaky"}).status_code == 403
    assert not Department.objects.filter(name="Sneaky").exists()
    r = client.post(f"/console/departments/{desk.books.pk}/layout/", layout_post(desk.books, [], do="save"))
    assert r.status_code == 403
    assert len(layout_get(department=desk.books)) == 3


# --------------------------------------------------------------------------------------------
# Departments


def test_the_list_shows_each_department_with_its_layout(desk: Any, layouts: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/departments/").content.decode()
    assert html.index(f'id="department-{desk.books.pk}"') < html.index(
        f'id="department-{desk.electronics.pk}"'
    )
    assert "3 fields" in html
    assert f'href="/console/departments/{desk.books.pk}/layout/"' in html


def test_an_admin_creates_a_department_then_lands_on_its_layout(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/departments/", {"name": "Garden", "email": "garden@desk.test", "description": "Plants"}
    )
    garden = Department.objects.get(name="Garden")
    assert (garden.slug, garden.email, garden.description) == ("garden", "garden@desk.test", "Plants")
    assert r.status_code == 302
    assert r["Location"] == f"/console/departments/{garden.pk}/layout/"


def test_a_taken_name_is_refused_inline_with_what_was_typed(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/departments/", {"name": "books", "description": "Typed text"})
    assert r.status_code == 409
    html = r.content.decode()
    assert "A department with this name exists already." in html
    assert 'aria-invalid="true"' in html
    assert "Typed text" in html
    assert Department.objects.count() == 2


def test_a_bad_address_is_refused_inline(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/departments/", {"name": "Garden", "email": "not an address"})
    assert r.status_code == 422
    assert "Enter a valid email address." in r.content.decode()
    assert not Department.objects.filter(name="Garden").exists()


def test_an_admin_renames_and_deactivates_a_department(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        f"/console/departments/{desk.electronics.pk}/",
        {"name": "Gadgets", "email": "", "description": "Phones and TVs"},
    )
    assert r.status_code == 302
    d = Department.objects.get(pk=desk.electronics.pk)
    assert (d.name, d.slug, d.description, d.is_active) == ("Gadgets", "electronics", "Phones and TVs", False)


def test_an_unknown_department_is_a_404(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    assert client.get("/console/departments/999999/").status_code == 404
    assert client.get("/console/departments/999999/layout/").status_code == 404


# --------------------------------------------------------------------------------------------
# Statuses


def test_statuses_are_listed_per_category(desk: Any, browser: Any) -> None:
    html = browser(desk.admin).get("/console/statuses/").content.decode()
    order = [
        html.index(f'id="category-{c}"') for c in ("new", "open", "pending", "on_hold", "solved", "closed")
    ]
    assert order == sorted(order)
    assert "<code>on_hold</code>" in html


# --------------------------------------------------------------------------------------------
# Custom fields


def test_an_admin_creates_a_picklist_field(desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post(
        "/console/fields/new/",
        {
            "label": "Subcategory",
            "key": "subcategory",
            "type": "picklist",
            "options": "Novels\nchildrens | Children's books\n\nPhones",
            "description": "What it is about",
            "position": "3",
        },
    )
    assert r.status_code == 302
    f = CustomField.objects.get(key="subcategory")
    assert f.options == [
        {"value": "novels", "label": "Novels"},
        {"value": "childrens", "label": "Children's books"},
        {"value": "phones", "label": "Phones"},
    ]
    assert (f.label, f.type, f.description, f.position) == ("Subcategory", "picklist", "What it is about", 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key": "Bad Key"}, "Start with a lower-case letter"),
        ({"options": ""}, "Give at least one value."),
        ({"options": "a\nb\na"}, "Line 3 repeats the value “a”."),
        ({"type": "text"}, "Only picklists and multi-selects have values."),
        ({"key": "order_number"}, "A field with this key exists already."),
        ({"label": ""}, "This field is required."),
    ],
)
def test_a_bad_field_is_refused_inline_with_what_was_typed(
    desk: Any, layouts: Any, browser: Any, data: dict[str, str], message: str
) -> None:
    sent = {"label": "Colour", "key": "colour", "type": "picklist", "options": "a\nb", "position": "0"}
    sent.update(data)
    r = browser(desk.admin).post("/console/fields/new/", sent)
    assert r.status_code in (409, 422)
    html = r.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert sent["options"] in html or sent["options"] == ""
    assert not CustomField.objects.filter(label="Colour").exists()


def test_values_are_renamed_reordered_added_and_retired(desk: Any, layouts: Any, browser: Any) -> None:
    field = CustomField.objects.get(key="subcategory")
    r = browser(desk.admin).post(
        f"/console/fields/{field.pk}/",
        {
            "label": "Topic",
            "options": "phones | Mobile phones\nnovels\nchildrens_books | Children's books\n"
            "televisions\nLaptops",
            "description": "Help",
            "position": "1",
            "is_active": "on",
        },
    )
    assert r.status_code == 302
    field.refresh_from_db()
    assert field.label == "Topic"
    assert [o["value"] for o in field.options] == [
        "phones",
        "novels",
        "childrens_books",
        "televisions",
        "laptops",
    ]
    assert field.options[0]["label"] == "Mobile phones"
    # retiring a value no layout limits itself to: an added one
    r = browser(desk.admin).post(
        f"/console/fields/{field.pk}/",
        {
            "label": "Topic",
            "options": "phones\nnovels\nchildrens_books\ntelevisions",
            "position": "1",
            "is_active": "on",
        },
    )
    assert r.status_code == 302
    field.refresh_from_db()
    assert [o["value"] for o in field.options] == ["phones", "novels", "childrens_books", "televisions"]


def test_retiring_a_value_a_layout_allows_is_refused_inline(desk: Any, layouts: Any, browser: Any) -> None:
    field = CustomField.objects.get(key="subcategory")
    r = browser(desk.admin).post(
        f"/console/fields/{field.pk}/",
        {
            "label": "Subcategory",
            "options": "novels\nphones\ntelevisions",
            "position": "0",
            "is_active": "on",
        },
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert "A value you removed is still allowed by a layout" in html
    assert "Books" in html
    assert "novels\nphones\ntelevisions" in html
    field.refresh_from_db()
    assert len(field.options) == 4


def test_key_and_type_never_change(desk: Any, layouts: Any, browser: Any) -> None:
    field = CustomField.objects.get(key="order_number")
    r = browser(desk.admin).post(
        f"/console/fields/{field.pk}/",
        {"label": "Order", "key": "other", "type": "number", "position": "0", "is_active": "on"},
    )
    assert r.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.type, field.label) == ("order_number", "text", "Order")


def test_a_field_is_deactivated_and_leaves_the_layout_editor(desk: Any, layouts: Any, browser: Any) -> None:
    field = CustomField.objects.get(key="gift")
    client = browser(desk.admin)
    r = client.post(f"/console/fields/{field.pk}/", {"label": "Gift wrapped", "position": "0"})
    assert r.status_code == 302
    field.refresh_from_db()
    assert field.is_active is False
    html = client.get(f"/console/departments/{desk.books.pk}/layout/").content.decode()
    assert 'id="row-gift"' not in html
    assert 'value="gift"' not in html  # nor offered to be added
    # a save keeps its row (hidden while it is inactive), so reactivating it brings it back
    rows = [{"key": "order_number"}, {"key": "subcategory", "vals": ["novels"]}]
    r = client.post(f"/console/departments/{desk.books.pk}/layout/", layout_post(desk.books, rows, do="save"))
    assert r.status_code == 302
    assert [x.field.key for x in layout_get(department=desk.books)] == ["order_number", "subcategory", "gift"]


# --------------------------------------------------------------------------------------------
# Layouts


def test_the_layout_editor_shows_the_saved_layout_and_its_preview(
    desk: Any, layouts: Any, browser: Any
) -> None:
    r = browser(desk.admin).get(f"/console/departments/{desk.books.pk}/layout/")
    html = r.content.decode()
    assert (
        html.index('id="row-order_number"') < html.index('id="row-subcategory"') < html.index('id="row-gift"')
    )
    agent, customer = r.context["agent_preview"], r.context["customer_preview"]
    assert list(agent.fields) == ["order_number", "subcategory", "gift"]
    assert [v for v, _l in agent.fields["subcategory"].choices] == ["", "novels", "childrens_books"]
    assert agent.fields["subcategory"].help_text == "Required to solve."
    assert [v for v, _l in customer.fields["subcategory"].choices] == ["", "novels", "childrens_books"]
    assert 'value="product_code"' in html  # can be added


def test_moving_and_adding_redraws_without_saving(desk: Any, layouts: Any, browser: Any) -> None:
    before = layout_fingerprint(layout_get(department=desk.books))
    rows = [
        {"key": "order_number"},
        {"key": "subcategory", "req": "to_solve", "vals": ["novels"]},
        {"key": "gift"},
    ]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/",
        layout_post(desk.books, rows, move="up:subcategory", do="add", add="product_code"),
    )
    assert r.status_code == 200
    editor = r.context["editor"]
    assert [row.key for row in editor.rows] == ["subcategory", "order_number", "gift", "product_code"]
    assert editor.rows[0].allowed == ["novels"]
    assert layout_fingerprint(layout_get(department=desk.books)) == before


def test_the_preview_follows_the_editor(desk: Any, layouts: Any, browser: Any) -> None:
    rows = [
        {"key": "subcategory", "req": "always", "cust": True, "vals": ["novels", "phones"]},
        {"key": "order_number"},
    ]
    before = layout_fingerprint(layout_get(department=desk.books))
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/",
        layout_post(desk.books, rows),
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200
    assert 'id="layout-preview"' in r.content.decode()
    assert layout_fingerprint(layout_get(department=desk.books)) == before
    customer = r.context["customer_preview"]
    assert list(customer.fields) == ["subcategory", "order_number"]
    assert customer.fields["subcategory"].required is True
    assert [v for v, _l in customer.fields["subcategory"].choices] == ["", "novels", "phones"]
    assert r.context["agent_preview"].fields["subcategory"].help_text == "Required."


def test_saving_a_layout_goes_through_the_layout_service(desk: Any, layouts: Any, browser: Any) -> None:
    rows = [
        {
            "key": "subcategory",
            "req": "to_solve",
            "cust": True,
            "vals": ["novels", "childrens_books", "phones", "televisions"],
            "later": True,
        },
        {"key": "product_code", "req": "always"},
    ]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/", layout_post(desk.books, rows, do="save")
    )
    assert r.status_code == 302
    saved = [
        (x.field.key, x.required, x.required_from_customer, x.position, x.allowed_values)
        for x in layout_get(department=desk.books)
    ]
    assert saved == [("subcategory", "to_solve", True, 0, None), ("product_code", "always", False, 1, None)]


def test_no_value_ticked_is_refused_inline_with_everything_kept(
    desk: Any, layouts: Any, browser: Any
) -> None:
    rows = [{"key": "order_number", "req": "always"}, {"key": "subcategory", "vals": []}]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/", layout_post(desk.books, rows, do="save")
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Tick at least one value of Subcategory." in html
    assert [row.key for row in r.context["editor"].rows] == ["order_number", "subcategory"]
    assert r.context["editor"].rows[0].required == "always"
    assert len(layout_get(department=desk.books)) == 3


def test_a_stale_layout_save_keeps_what_was_typed_and_shows_the_saved_one(
    desk: Any, layouts: Any, browser: Any
) -> None:
    data = layout_post(desk.books, [{"key": "gift", "req": "always"}], do="save")
    # meanwhile someone else saves the layout
    layout_replace(
        actor=desk.admin, department=desk.books, rows=[LayoutRowSpec("order_number", required="always")]
    )
    client = browser(desk.admin)
    r = client.post(f"/console/departments/{desk.books.pk}/layout/", data)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved this layout since you opened it." in html
    assert "Order number — Required on every change" in html
    assert [row.key for row in r.context["editor"].rows] == ["gift"]
    assert [x.field.key for x in layout_get(department=desk.books)] == ["order_number"]
    # saving again (with the fingerprint the answer carries) replaces it
    data["fingerprint"] = r.context["editor"].fingerprint
    assert client.post(f"/console/departments/{desk.books.pk}/layout/", data).status_code == 302
    assert [(x.field.key, x.required) for x in layout_get(department=desk.books)] == [("gift", "always")]


def test_unknown_keys_in_a_post_are_dropped(desk: Any, layouts: Any, browser: Any) -> None:
    data = layout_post(desk.books, [{"key": "gift"}], do="save")
    data["row"] = ["gift", "nope", "gift", "<script>"]
    r = browser(desk.admin).post(f"/console/departments/{desk.books.pk}/layout/", data)
    assert r.status_code == 302
    assert [x.field.key for x in LayoutField.objects.filter(department=desk.books)] == ["gift"]


def test_a_stale_field_edit_keeps_what_was_typed_and_shows_what_was_saved(
    desk: Any, layouts: Any, browser: Any
) -> None:
    from sportello.tickets.fields_services import custom_field_update, field_fingerprint

    field = CustomField.objects.get(key="order_number")
    seen = field_fingerprint(field)
    # meanwhile someone else renames it
    custom_field_update(actor=desk.admin, field=field, label="Order reference")
    client = browser(desk.admin)
    typed = {
        "label": "Order no.",
        "description": "Typed help",
        "position": "0",
        "is_active": "on",
        "seen": seen,
    }
    r = client.post(f"/console/fields/{field.pk}/", typed)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone saved this field since you opened it." in html
    assert "Order reference" in html  # what they saved
    assert 'value="Order no."' in html  # what was typed
    assert "Typed help" in html
    field.refresh_from_db()
    assert field.label == "Order reference"
    # saving again (with the fingerprint the answer carries) replaces it
    typed["seen"] = r.context["form"].data["seen"]
    assert client.post(f"/console/fields/{field.pk}/", typed).status_code == 302
    field.refresh_from_db()
    assert (field.label, field.description) == ("Order no.", "Typed help")


def test_the_field_picked_to_add_stays_picked_when_the_editor_is_redrawn(
    desk: Any, layouts: Any, browser: Any
) -> None:
    data = layout_post(desk.books, [{"key": "order_number"}], add="product_code")
    r = browser(desk.admin).post(f"/console/departments/{desk.books.pk}/layout/", data)
    assert r.status_code == 200
    assert '<option value="product_code" selected>' in r.content.decode()
