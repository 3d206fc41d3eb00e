"""The ticket page in a real browser: custom fields by their labels, a department's layout
drawn before saving, an attachment opened, the customer's phone edited, the history filtered.
Each journey ends on an accessible page."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .axe import assert_accessible

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_an_agent_sets_a_subcategory_by_its_label(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, layouts: None
) -> None:
    from sportello.tickets.models import Ticket

    ticket = open_ticket("Torn page")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    form = page.locator("#properties-form")
    form.get_by_label("Subcategory").select_option(label="Children's books")
    form.get_by_label("Order number").fill("A-1234")
    form.get_by_role("button", name="Save").click()
    page.wait_for_function(
        "() => document.querySelector('#id_cf_subcategory')?.value === 'childrens_books'"
        " && !document.querySelector('.fields-to-fill')"
    )
    assert Ticket.objects.get(pk=ticket.pk).custom_fields == {
        "subcategory": "childrens_books",
        "order_number": "A-1234",
    }
    assert_accessible(page, context="the ticket page")


def test_changing_the_department_draws_its_layout_before_saving(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, layouts: None
) -> None:
    from sportello.tickets.models import Ticket

    ticket = open_ticket("Which reader?")
    sign_in(page, desk.admin)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    form = page.locator("#properties-form")
    form.get_by_label("Order number").fill("B-7")
    form.get_by_label("Priority").select_option(label="Urgent")
    # Books offers its own subcategories
    assert form.get_by_label("Subcategory").locator("option").all_inner_texts() == [
        "—",
        "Novels",
        "Children's books",
    ]
    form.get_by_label("Department").select_option(label="Electronics")
    page.get_by_text("Fields of Electronics").wait_for()
    form = page.locator("#properties-form")
    assert form.get_by_label("Subcategory").locator("option").all_inner_texts() == [
        "—",
        "Phones",
        "Televisions",
    ]
    assert form.get_by_label("Order number").input_value() == "B-7"  # what was typed stays
    assert form.get_by_label("Priority").input_value() == "urgent"
    assert Ticket.objects.get(pk=ticket.pk).department_id == desk.books.pk  # not saved yet
    form.get_by_label("Subcategory").select_option(label="Televisions")
    form.get_by_label("Product code").fill("TV-42")
    form.get_by_role("button", name="Save").click()
    page.locator(".ticket-meta").get_by_text("Electronics").wait_for()
    saved = Ticket.objects.get(pk=ticket.pk)
    assert saved.department_id == desk.electronics.pk
    assert saved.custom_fields == {
        "order_number": "B-7",
        "subcategory": "televisions",
        "product_code": "TV-42",
    }
    assert_accessible(page, context="the ticket page after a department change")


def test_an_agent_opens_an_attachment(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any, attachment_store: Path
) -> None:
    from sportello.core import clock
    from sportello.core.actors import Via
    from sportello.tickets import attachments, services

    ticket = open_ticket("Scratched cover")
    att = attachments.attachment_upload(
        principal=desk.agent, ticket_id=ticket.pk, stream=io.BytesIO(PNG), filename="cover.png",
        declared_content_type="image/png", via=Via.WEB, now=clock.now(),
    )  # fmt: skip
    services.message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB, body="Photo attached", body_html="",
        public=True, attachment_ids=[att.pk], version=None, now=clock.now(),
    )  # fmt: skip
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    thumb = page.get_by_role("img", name="cover.png")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.thumb')?.naturalWidth === 1")
    with page.context.expect_page() as opened:
        page.get_by_role("link", name=re.compile("cover.png")).click()
    image = opened.value
    image.wait_for_load_state()
    assert image.url.endswith(f"/attachments/{att.pk}/")
    image.close()
    assert_accessible(page, context="the ticket page with an attachment")


def test_an_agent_edits_the_customers_phone(
    desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any
) -> None:
    ticket = open_ticket("Call me back")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    panel = page.locator("#customer")
    panel.get_by_text("Edit contact").click()
    panel.get_by_label("Phone").fill("+39 02 8088 1234")
    panel.get_by_role("button", name="Save contact").click()
    page.locator("#customer .contact-phone").get_by_text("+39 02 8088 1234").wait_for()
    desk.alice.refresh_from_db()
    assert desk.alice.phone == "+39 02 8088 1234"
    assert_accessible(page, context="the customer panel")


def test_an_agent_filters_the_history(desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any) -> None:
    ticket = open_ticket("Busy")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    form = page.locator("#properties-form")
    form.get_by_label("Priority").select_option(label="High")
    form.get_by_role("button", name="Save").click()
    history = page.locator("#history")
    history.get_by_text("Priority", exact=True).wait_for()
    history.get_by_role("link", name="Messages").click()
    page.wait_for_url(re.compile(r"\?history=messages$"))
    page.locator('#history a.current:has-text("Messages")').wait_for()
    assert page.locator("#history .event-rows").get_by_text("Priority").count() == 0
    assert page.locator("#history").get_by_text("opened the ticket").count() == 1
    page.go_back()
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    page.reload()
    assert page.locator("#history .event-rows").get_by_text("Priority").count() == 1
    assert_accessible(page, context="the history")


def test_the_ticket_page_fits_a_phone(
    desk: Any, open_ticket: Any, phone_page: Any, sign_in: Any, url: Any, layouts: None
) -> None:
    ticket = open_ticket("A rather long subject line that a customer typed on a small phone screen")
    sign_in(phone_page, desk.agent)
    phone_page.goto(url(f"/tickets/{ticket.pk}/"))
    overflow = phone_page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert_accessible(phone_page, context="the ticket page on a phone")


def _top(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return float(box["y"])


def test_on_a_phone_the_conversation_comes_first_and_a_menu_jumps_to_the_panels(
    desk: Any, open_ticket: Any, page: Any, phone_page: Any, sign_in: Any, url: Any, layouts: None
) -> None:
    ticket = open_ticket("Where is my order?")
    sign_in(phone_page, desk.agent)
    phone_page.goto(url(f"/tickets/{ticket.pk}/"))
    # the header, then the conversation and the composer, then properties, customer, tasks, history
    order = [
        "h1",
        "#conversation",
        "#reply-form",
        "#properties-form",
        "#customer",
        "#tasks-panel",
        "#history",
    ]
    tops = [_top(phone_page, s) for s in order]
    assert tops == sorted(tops), dict(zip(order, tops, strict=True))
    # the keyboard meets them in the same order (the page's order)
    focusable = phone_page.evaluate(
        """() => ['#reply-form textarea', '#properties-form select', '#customer summary', '#history a']
            .map(s => document.querySelector(s))
            .every((el, i, all) => i === 0 || (all[i - 1].compareDocumentPosition(el) & 4))"""
    )
    assert focusable is True
    # a compact menu jumps to each panel
    jump = phone_page.get_by_role("navigation", name="Ticket panels")
    assert jump.get_by_role("link").all_inner_texts() == [
        "Conversation", "Reply", "Properties", "Customer", "Tasks", "History",
    ]  # fmt: skip
    jump.get_by_role("link", name="Properties").click()
    phone_page.wait_for_function("() => location.hash === '#properties-form'")
    # the panel lands at the top, below the menu, which stays in view
    props = phone_page.locator("#properties-form").bounding_box()
    menu = jump.bounding_box()
    assert props is not None
    assert menu is not None
    assert menu["y"] == 0
    assert menu["height"] <= props["y"] < 844 / 4
    overflow = phone_page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert_accessible(phone_page, context="the ticket page on a phone, panels in order")
    # on a wide screen the properties sit left of the conversation, and there is no jump menu
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{ticket.pk}/"))
    props, conversation = (
        page.locator("#properties-form").bounding_box(),
        page.locator("#conversation").bounding_box(),
    )
    assert props is not None
    assert conversation is not None
    assert props["x"] < conversation["x"]
    assert page.get_by_role("navigation", name="Ticket panels").is_hidden()
