"""The Console's desk set-up in a real browser, from an empty desk: an admin creates the
departments Books and Electronics and a "Subcategory" picklist, then gives each department its
layout with its own values of the subcategory, watching the preview of the ticket form as an
agent and as a customer would see it, and saves; the Desk's new-ticket form then offers each
department's values. Every page is free of axe-core violations and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot


def _admin() -> Any:
    from sportello.accounts.models import Role
    from sportello.accounts.services import agent_create

    return agent_create(email="ada@desk.test", name="Ada Admin", role=Role.ADMIN, password="pw-admin-123")


def test_an_admin_sets_up_departments_a_subcategory_and_their_layouts(
    page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.accounts.models import Department
    from sportello.tickets.fields_services import layout_get

    admin = _admin()
    sign_in(page, admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Departments and layouts").click()
    page.wait_for_url(url("/console/departments/"))
    page.get_by_text("No departments yet.").wait_for()
    assert_accessible(page, context="the departments, none yet")
    # Books, then Electronics
    for name in ("Books", "Electronics"):
        page.goto(url("/console/departments/"))
        page.get_by_text("New department").click()
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create department").click()
        page.get_by_role("heading", name=f"Layout of {name}").wait_for()
        page.get_by_text(f"Department “{name}” created.").wait_for()
    # a taken name is refused next to the field
    page.goto(url("/console/departments/"))
    page.get_by_text("New department").click()
    page.get_by_label("Name").fill("books")
    page.get_by_role("button", name="Create department").click()
    page.get_by_text("A department with this name exists already.").wait_for()
    assert page.get_by_label("Name").input_value() == "books"
    assert_accessible(page, context="the departments with an error")
    shot(page, "console-departments")
    # the Subcategory picklist
    page.goto(url("/console/fields/"))
    assert_accessible(page, context="the custom fields, none yet")
    page.get_by_role("link", name="New field").click()
    page.get_by_label("Label").fill("Subcategory")
    page.get_by_role("textbox", name="Key").fill("subcategory")
    page.get_by_label("Type").select_option("picklist")
    page.get_by_label("Values").fill("Novels\nchildrens_books | Children's books\nPhones\nTelevisions")
    page.get_by_label("Help text").fill("What the request is about.")
    assert_accessible(page, context="a new field")
    page.get_by_role("button", name="Create field").click()
    page.get_by_text("Field “Subcategory” created.").wait_for()
    assert "Novels, Children's books, Phones, Televisions" in page.locator("tbody tr").first.inner_text()
    assert_accessible(page, context="the custom fields")
    page.get_by_role("link", name="New field").click()
    page.get_by_label("Label").fill("Order number")
    page.get_by_role("textbox", name="Key").fill("order_number")
    page.get_by_role("button", name="Create field").click()
    page.get_by_text("Field “Order number” created.").wait_for()
    books = Department.objects.get(name="Books")
    electronics = Department.objects.get(name="Electronics")
    # Books' layout: the subcategory with the books' values, required to solve
    page.goto(url(f"/console/departments/{books.pk}/layout/"))
    page.get_by_label("Add a field").select_option(label="Order number")
    page.get_by_role("button", name="Add", exact=True).click()
    page.locator("#row-order_number").wait_for()
    settled(page)
    page.get_by_label("Add a field").select_option(label="Subcategory")
    page.get_by_role("button", name="Add", exact=True).click()
    row = page.locator("#row-subcategory")
    row.wait_for()
    # the preview shows both, in this order, for agents and customers
    agent = page.locator(".preview-pane").first
    customer = page.locator(".preview-pane").nth(1)
    assert agent.get_by_label("Subcategory").count() == 1
    # subcategory first: moved up by the keyboard
    settled(page)
    row.get_by_role("button", name="Move Subcategory up").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".layout-row").first).to_have_id("row-subcategory")
    expect(page.locator("#up-subcategory")).to_be_focused()
    assert agent.locator("label").first.inner_text() == "Subcategory"
    # the books' values only, required to solve of agents, required of customers
    row = page.locator("#row-subcategory")
    settled(page)
    row.get_by_label("Agents").select_option("to_solve")
    expect(page.locator("#layout-preview")).to_contain_text("Required to solve.")
    settled(page)
    row.get_by_label("Required of customers on their form").check()
    page.locator("#layout-preview .preview-required").wait_for()
    for value in ("Phones", "Televisions"):
        settled(page)  # each change redraws the editor: the next waits for it
        row.get_by_label(value, exact=True).uncheck()
    settled(page)
    expect(page.locator("#id_customer-preview-subcategory option")).to_have_count(3)
    # limited to some values, the layout no longer offers those added later
    expect(row.get_by_label("Every value, also those added to the field later")).not_to_be_checked()
    options = customer.get_by_label("Subcategory").locator("option").all_inner_texts()
    assert options == ["—", "Novels", "Children's books"]
    assert agent.get_by_label("Subcategory").locator("option").all_inner_texts() == options
    assert_accessible(page, context="the layout editor with its preview")
    shot(page, "console-layout-preview")
    settled(page)
    page.get_by_role("button", name="Save layout").click()
    page.get_by_text("Layout of Books saved.").wait_for()
    saved = [
        (r.field.key, r.required, r.required_from_customer, r.allowed_values)
        for r in layout_get(department=books)
    ]
    assert saved == [
        ("subcategory", "to_solve", True, ["novels", "childrens_books"]),
        ("order_number", "none", False, None),
    ]
    # Electronics: the electronics' values
    page.goto(url(f"/console/departments/{electronics.pk}/layout/"))
    page.get_by_text("No fields in this layout").wait_for()
    page.get_by_label("Add a field").select_option(label="Subcategory")
    page.get_by_role("button", name="Add", exact=True).click()
    row = page.locator("#row-subcategory")
    row.wait_for()
    for value in ("Novels", "Children's books"):
        settled(page)
        row.get_by_label(value, exact=True).uncheck()
    settled(page)
    expect(page.locator("#id_agent-preview-subcategory option")).to_have_count(3)
    agent = page.locator(".preview-pane").first
    assert agent.get_by_label("Subcategory").locator("option").all_inner_texts() == [
        "—",
        "Phones",
        "Televisions",
    ]
    page.get_by_role("button", name="Save layout").click()
    page.get_by_text("Layout of Electronics saved.").wait_for()
    assert [r.allowed_values for r in layout_get(department=electronics)] == [["phones", "televisions"]]
    # the list counts each layout's fields
    page.goto(url("/console/departments/"))
    assert "2 fields" in page.locator(f"#department-{books.pk}").inner_text()
    assert "1 field" in page.locator(f"#department-{electronics.pk}").inner_text()
    assert_accessible(page, context="the departments")
    # the Desk's new-ticket form offers Electronics' values there
    page.goto(url("/tickets/new/"))
    page.get_by_label("Department").select_option(label="Electronics")
    page.get_by_label("Subcategory").wait_for()
    assert page.get_by_label("Subcategory").locator("option").all_inner_texts() == [
        "—",
        "Phones",
        "Televisions",
    ]


def test_the_desk_set_up_fits_a_phone(
    desk: Any, layouts: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.tickets.models import CustomField

    field = CustomField.objects.get(key="subcategory")
    sign_in(phone_page, desk.admin)
    for path in (
        "/console/departments/",
        f"/console/departments/{desk.books.pk}/",
        f"/console/departments/{desk.books.pk}/layout/",
        "/console/statuses/",
        "/console/fields/",
        "/console/fields/new/",
        f"/console/fields/{field.pk}/",
    ):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    phone_page.goto(url(f"/console/departments/{desk.books.pk}/layout/"))
    shot(phone_page, "console-layout-phone")
    phone_page.goto(url("/console/statuses/"))
    shot(phone_page, "console-statuses-phone")
