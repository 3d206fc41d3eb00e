"""Journey: an agent merges a duplicate into the customer's first ticket."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible


def test_merge_a_duplicate(desk: Any, open_ticket: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.tickets.models import Message

    target = open_ticket("Order 41 missing", description="Where is order 41?")
    source = open_ticket("Parcel lost", description="Still no parcel, it is order 41.")
    sign_in(page, desk.agent)
    page.goto(url(f"/tickets/{source.pk}/"))
    page.get_by_role("button", name="Merge into another ticket…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Ticket number or words of its subject").fill(str(target.number))
    dialog.get_by_role("button", name=f"#{target.number} Order 41 missing").click()
    dialog.get_by_text("1 message will move").wait_for()
    assert_accessible(page, context="the merge dialog")
    dialog.get_by_role("button", name=f"Merge into #{target.number}").click()
    page.wait_for_url(f"**/tickets/{target.pk}/")
    page.get_by_text("Still no parcel, it is order 41.").wait_for()
    assert Message.objects.filter(ticket=target).count() == 2
    page.goto(url(f"/tickets/{source.pk}/"))
    banner = page.locator(".merged-banner")
    assert f"Merged into #{target.number}" in banner.inner_text()
    assert "Order 41 missing" in banner.inner_text()
    assert page.get_by_role("button", name="Merge into another ticket…").count() == 0
    # read-only: no composer, no follow-up, no properties form
    assert page.locator("#reply-form, #followup-form, #properties-form").count() == 0
    assert_accessible(page, context="a merged ticket")
    banner.get_by_role("link").click()
    page.wait_for_url(f"**/tickets/{target.pk}/")
    # the target links back to what was merged into it
    links = page.locator(".ticket-relations")
    assert "Merged from" in links.inner_text()
    assert links.get_by_role("link", name=f"#{source.number} Parcel lost").count() == 1
    assert_accessible(page, context="a ticket another was merged into")
