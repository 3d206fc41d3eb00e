"""The Console's webhooks in a real browser: an admin creates a signing secret (its value shown
once), rotates it, filters the delivery log to the parked ones and retries one. Accessible, and
fits a phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


@pytest.fixture
def parked(db: Any) -> int:
    from sportello.outbox.models import OutboxMessage
    from testing import NOW

    OutboxMessage.objects.create(
        kind="webhook", destination="https://crm.example.test:443", dedupe_key="ok-1",
        payload={"url": "https://crm.example.test/hooks"}, status="sent", attempts=1,
        next_attempt_at=NOW, created_at=NOW, sent_at=NOW,
    )  # fmt: skip
    row = OutboxMessage.objects.create(
        kind="webhook", destination="https://erp.example.test:443", dedupe_key="parked-1",
        payload={"url": "https://erp.example.test/in"}, status="parked", attempts=12,
        next_attempt_at=NOW, created_at=NOW + timedelta(minutes=5), parked_at=NOW + timedelta(hours=1),
        last_error="HTTP 503 Service Unavailable from the receiver",
    )  # fmt: skip
    return row.pk


def test_an_admin_makes_a_secret_and_retries_a_parked_delivery(
    desk: Any, parked: int, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.outbox.models import WebhookSecret

    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Webhooks").click()
    page.wait_for_url(url("/console/webhooks/"))
    assert_accessible(page, context="the webhooks")
    page.get_by_label("New secret's name").fill("erp-signing")
    page.get_by_role("button", name="Create secret").click()
    page.get_by_text("Signing secret “erp-signing” created.").wait_for()
    first = page.locator("#secret-value").inner_text()
    assert len(first) >= 32
    assert_accessible(page, context="a new secret shown once")
    page.get_by_role("button", name="Rotate erp-signing").click()
    page.get_by_text("New value of “erp-signing”.").wait_for()
    assert page.locator("#secret-value").inner_text() != first
    assert WebhookSecret.objects.get(name="erp-signing").version == 2
    page.get_by_label("Status").select_option("parked")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "status=parked" in u)
    row = page.locator(f"#delivery-{parked}")
    assert "HTTP 503" in row.inner_text()
    shot(page, "console-webhooks")
    row.get_by_role("button", name=f"Retry #{parked}").click()
    page.get_by_text(f"Delivery {parked} is queued again").wait_for()
    assert page.locator(f"#delivery-{parked}").count() == 0
    assert_accessible(page, context="after a retry")


def test_the_webhooks_fit_a_phone(desk: Any, parked: int, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.admin)
    phone_page.goto(url("/console/webhooks/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the webhooks on a phone")
