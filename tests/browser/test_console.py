"""The Console in a real browser: an admin opens it from their menu, goes to API tokens and
revokes an agent's token through the confirmation, then sees it revoked; the Console's pages
have no accessibility violations and fit a 390 px wide phone."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def test_an_admin_revokes_an_agents_token_from_the_console(
    desk: Any, now: Any, page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.accounts.models import ApiToken
    from sportello.accounts.services import token_create

    token, _secret = token_create(user=desk.agent, name="Nightly report", now=now)
    token_create(user=desk.light, name="Lia's export", now=now)
    sign_in(page, desk.admin)
    # Ada opens the Console from her menu
    page.locator(".me-menu summary").click()
    page.get_by_role("link", name="Console", exact=True).click()
    page.wait_for_url(url("/console/"))
    page.get_by_role("heading", name="Console", level=1).wait_for()
    assert_accessible(page, context="the Console's overview")
    shot(page, "console")
    # then API tokens from the overview's cards
    page.locator(".console-cards").get_by_role("link", name="API tokens").click()
    page.wait_for_url(url("/console/tokens/"))
    row = page.locator(f"#token-{token.pk}")
    assert "Bruno Books" in row.inner_text()
    assert "Never" in row.inner_text()
    assert_accessible(page, context="the Console's API tokens")
    shot(page, "console-tokens")
    # she revokes Bruno's token, and confirms
    row.get_by_role("link", name="Revoke… Nightly report (Bruno Books)").click()
    page.get_by_role("heading", name="Revoke token “Nightly report”?").wait_for()
    assert_accessible(page, context="the revocation's confirmation")
    page.get_by_role("button", name="Revoke token").click()
    # back on the list, told it is done; the active tokens no longer include it
    page.get_by_text("Token “Nightly report” of Bruno Books revoked: it no longer works.").wait_for()
    assert page.locator(f"#token-{token.pk}").count() == 0
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    # the revoked ones show it, revoked
    page.get_by_label("Status").select_option("revoked")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: "status=revoked" in u)
    revoked = page.locator(f"#token-{token.pk}")
    assert "Revoked" in revoked.inner_text()
    assert revoked.get_by_role("link").count() == 0
    assert_accessible(page, context="the revoked tokens")


def test_the_console_fits_a_phone(desk: Any, now: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    from sportello.accounts.services import token_create

    token_create(user=desk.agent, name="A script with a rather long name for a phone", now=now)
    sign_in(phone_page, desk.admin)
    for path in ("/console/", "/console/tokens/"):
        phone_page.goto(url(path))
        no_sideways_overflow(phone_page)
        assert_accessible(phone_page, context=f"{path} on a phone")
    # the revoke link is reachable (the table scrolls within its own box)
    link = phone_page.get_by_role(
        "link", name="Revoke… A script with a rather long name for a phone (Bruno Books)"
    )
    link.scroll_into_view_if_needed()
    link.click()
    phone_page.get_by_role("button", name="Revoke token").wait_for()
    no_sideways_overflow(phone_page)
    shot(phone_page, "console-tokens-phone")
