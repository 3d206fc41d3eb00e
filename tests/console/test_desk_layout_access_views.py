"""The layout editor's say on customers: per row, whether customers can't see, can see or can
fill the field; the customer's preview follows (read-only fields as text, hidden ones left out),
a save goes through the layout service, and a field required of customers who cannot fill it is
refused inline with everything kept."""

from __future__ import annotations

from typing import Any

from sportello.tickets.fields_services import LayoutRowSpec, layout_fingerprint, layout_get, layout_replace


def post_rows(department: Any, rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The editor's post for `rows` (each: key, and optionally access, cust)."""
    data: dict[str, Any] = {
        "fingerprint": layout_fingerprint(layout_get(department=department)),
        "row": [r["key"] for r in rows],
    }
    for r in rows:
        data[f"req-{r['key']}"] = "none"
        data[f"access-{r['key']}"] = r.get("access", "edit")
        if r.get("cust"):
            data[f"cust-{r['key']}"] = "on"
        if r["key"] == "subcategory":
            data[f"later-{r['key']}"] = "on"
            data[f"val-{r['key']}"] = ["novels", "childrens_books", "phones", "televisions"]
    data.update(extra)
    return data


def test_the_editor_shows_what_customers_may_do_with_each_field(
    desk: Any, layouts: Any, browser: Any
) -> None:
    layout_replace(
        actor=desk.admin,
        department=desk.books,
        rows=[
            LayoutRowSpec("order_number"),
            LayoutRowSpec("gift", customer_access="read"),
            LayoutRowSpec("subcategory", customer_access="hidden"),
        ],
    )
    r = browser(desk.admin).get(f"/console/departments/{desk.books.pk}/layout/")
    html = r.content.decode()
    assert '<label for="access-gift">Customers</label>' in html
    assert '<option value="read" selected>Can see</option>' in html
    assert '<option value="hidden" selected>Can&#x27;t see</option>' in html
    assert "Agents only: customers never see its value." in html
    # the agent's preview has every field; the customer's form only the one they fill
    assert list(r.context["agent_preview"].fields) == ["order_number", "gift", "subcategory"]
    assert list(r.context["customer_preview"].fields) == ["order_number"]
    assert [x.field.key for x in r.context["customer_read"]] == ["gift"]
    assert [x.field.key for x in r.context["customer_hidden"]] == ["subcategory"]
    assert "Shown on their ticket, read only" in html
    assert "Not shown to customers: Subcategory" in html


def test_the_customers_preview_follows_the_editor(desk: Any, layouts: Any, browser: Any) -> None:
    before = layout_fingerprint(layout_get(department=desk.books))
    rows = [{"key": "order_number", "access": "hidden"}, {"key": "gift", "access": "read"}]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/", post_rows(desk.books, rows), HTTP_HX_REQUEST="true"
    )
    assert r.status_code == 200
    assert list(r.context["customer_preview"].fields) == []
    assert "No fields for customers to fill." not in r.content.decode()  # the read-only one shows
    assert [x.field.key for x in r.context["customer_read"]] == ["gift"]
    assert [x.field.key for x in r.context["customer_hidden"]] == ["order_number"]
    assert layout_fingerprint(layout_get(department=desk.books)) == before  # nothing saved


def test_saving_goes_through_the_layout_service(desk: Any, layouts: Any, browser: Any) -> None:
    rows: list[dict[str, Any]] = [
        {"key": "order_number", "access": "edit", "cust": True},
        {"key": "gift", "access": "read"},
        {"key": "subcategory", "access": "hidden"},
        {"key": "product_code", "access": "not-a-choice"},
    ]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/", post_rows(desk.books, rows, do="save")
    )
    assert r.status_code == 302
    saved = [
        (x.field.key, x.customer_access, x.required_from_customer) for x in layout_get(department=desk.books)
    ]
    assert saved == [
        ("order_number", "edit", True),
        ("gift", "read", False),
        ("subcategory", "hidden", False),
        ("product_code", "edit", False),  # an unknown choice reads as the default
    ]


def test_a_field_required_of_customers_who_cannot_fill_it_is_refused_inline(
    desk: Any, layouts: Any, browser: Any
) -> None:
    before = layout_fingerprint(layout_get(department=desk.books))
    rows: list[dict[str, Any]] = [{"key": "order_number"}, {"key": "gift", "access": "read", "cust": True}]
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/", post_rows(desk.books, rows, do="save")
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Gift wrapped can be required of customers only if they can fill it." in html
    assert 'id="access-gift-error"' in html
    # what was typed is kept, nothing saved
    editor = r.context["editor"]
    assert [(row.key, row.customer_access, row.from_customer) for row in editor.rows] == [
        ("order_number", "edit", False),
        ("gift", "read", True),
    ]
    assert layout_fingerprint(layout_get(department=desk.books)) == before


def test_rows_of_inactive_fields_keep_what_customers_may_do(desk: Any, layouts: Any, browser: Any) -> None:
    from sportello.tickets.fields_services import custom_field_get, custom_field_update

    layout_replace(
        actor=desk.admin,
        department=desk.books,
        rows=[LayoutRowSpec("order_number"), LayoutRowSpec("gift", customer_access="hidden")],
    )
    custom_field_update(
        actor=desk.admin, field=custom_field_get(user=desk.admin, ref="gift"), is_active=False
    )
    r = browser(desk.admin).post(
        f"/console/departments/{desk.books.pk}/layout/",
        post_rows(desk.books, [{"key": "order_number", "access": "read"}], do="save"),
    )
    assert r.status_code == 302
    assert [(x.field.key, x.customer_access) for x in layout_get(department=desk.books)] == [
        ("order_number", "read"),
        ("gift", "hidden"),
    ]
