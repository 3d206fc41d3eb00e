"""What customers may do with each field of a layout, set in a real browser: the admin makes
Books' gift flag one customers can't see and the order number one they can see only, watching
the customer's preview drop the first and show the second as read-only text; a field required
of customers who cannot fill it is refused next to it; the saved layout is what was chosen, and
a customer can no longer set either field. Free of axe-core violations, and it fits a 390 px
phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot


def test_an_admin_hides_a_field_from_customers_and_their_form_no_longer_shows_it(
    desk: Any, layouts: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.core.actors import Via
    from sportello.core.errors import ValidationFailed
    from sportello.tickets import services
    from sportello.tickets.fields_services import layout_get
    from testing import NOW

    sign_in(page, desk.admin)
    page.goto(url(f"/console/departments/{desk.books.pk}/layout/"))
    preview = page.locator("#layout-preview")
    # the customer's form shows the gift flag, as every field until now
    expect(page.locator("#id_customer-preview-gift")).to_have_count(1)
    gift = page.locator("#row-gift")
    settled(page)
    gift.get_by_label("Customers", exact=True).select_option(label="Can't see")
    expect(page.locator("#id_customer-preview-gift")).to_have_count(0)
    expect(preview.locator(".preview-hidden")).to_have_text("Not shown to customers: Gift wrapped")
    expect(page.locator("#id_agent-preview-gift")).to_have_count(1)  # agents still see it
    order = page.locator("#row-order_number")
    settled(page)  # each change redraws the editor: the next one waits for it to settle
    order.get_by_label("Customers", exact=True).select_option(label="Can see")
    expect(page.locator("#id_customer-preview-order_number")).to_have_count(0)
    expect(preview.locator(".preview-read")).to_contain_text("Order number")
    expect(page.locator("#row-order_number .help").first).to_have_text(
        "Shown on the customer's ticket; only agents change it."
    )
    assert_accessible(page, context="the layout editor with fields hidden from customers")
    shot(page, "console-layout-customer-access")
    # required of customers who can't see it: refused next to the row, with the choices kept
    settled(page)
    page.locator("#row-gift").get_by_label("Required of customers on their form").check()
    settled(page)
    page.get_by_role("button", name="Save layout").click()
    page.locator("#access-gift-error").wait_for()
    expect(page.locator("#access-gift-error")).to_have_text(
        "Gift wrapped can be required of customers only if they can fill it."
    )
    expect(page.locator("#access-gift")).to_have_value("hidden")
    assert_accessible(page, context="the layout editor with a refused row")
    settled(page)
    page.locator("#row-gift").get_by_label("Required of customers on their form").uncheck()
    expect(page.locator("#access-gift-error")).to_have_count(0)
    settled(page)
    page.get_by_role("button", name="Save layout").click()
    page.get_by_text("Layout of Books saved.").wait_for()
    assert [(r.field.key, r.customer_access) for r in layout_get(department=desk.books)] == [
        ("order_number", "read"),
        ("subcategory", "edit"),
        ("gift", "hidden"),
    ]
    # the saved layout's customer preview, and a customer who still tries to set the gift flag
    expect(page.locator("#id_customer-preview-gift")).to_have_count(0)
    data = {"subject": "Wrap it", "description": "Please.", "department_id": desk.books.pk}
    with pytest.raises(ValidationFailed) as refused:
        services.ticket_open(
            principal=desk.alice, via=Via.PORTAL, data={**data, "custom_fields": {"gift": True}}, now=NOW
        )
    assert refused.value.field == "custom_fields.gift"


def test_the_layout_with_customer_access_fits_a_phone(
    desk: Any, layouts: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.tickets.fields_services import LayoutRowSpec, layout_replace

    layout_replace(
        actor=desk.admin,
        department=desk.books,
        rows=[
            LayoutRowSpec("order_number", customer_access="read"),
            LayoutRowSpec("gift", customer_access="hidden"),
        ],
    )
    sign_in(phone_page, desk.admin)
    phone_page.goto(url(f"/console/departments/{desk.books.pk}/layout/"))
    expect(phone_page.locator("#layout-preview .preview-hidden")).to_contain_text("Gift wrapped")
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the layout editor on a phone")
    shot(phone_page, "console-layout-customer-access-phone")
