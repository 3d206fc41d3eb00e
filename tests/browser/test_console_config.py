"""The Console's "Export and import" in a real browser: an admin downloads the configuration,
pastes a document, reads the preview of its changes, imports it and is told so; the page has no
accessibility violations and fits a 390 px wide phone, preview included."""

from __future__ import annotations

from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot

DOCUMENT = """schema: sportello/config/v1
departments:
- slug: games
  name: Games
  description: Video games and consoles
- slug: books
  name: Books and comics
fields:
- key: platform
  label: Platform
  type: picklist
  options: [{value: switch, label: Switch}, {value: ps5, label: PlayStation 5}]
layouts:
- department: games
  fields:
  - {field: platform, required: to_solve, required_from_customer: true}
"""


def test_an_admin_previews_then_imports_a_configuration(desk: Any, page: Any, sign_in: Any, url: Any) -> None:
    from sportello.accounts.models import Department

    sign_in(page, desk.admin)
    page.goto(url("/console/"))
    page.locator(".console-cards").get_by_role("link", name="Export and import").click()
    page.wait_for_url(url("/console/config/"))
    page.get_by_role("heading", name="Export and import", level=1).wait_for()
    assert_accessible(page, context="Export and import")
    # the export downloads as a YAML file
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the configuration").click()
    assert download.value.suggested_filename.startswith("sportello-config-")
    # she pastes a document and asks for the preview
    page.get_by_label("Or paste the document").fill(DOCUMENT)
    page.get_by_role("button", name="Preview the changes").click()
    page.get_by_role("heading", name="Preview: what the import would change").wait_for()
    preview = page.locator(".config-changes")
    assert "Books and comics" in preview.inner_text()
    assert preview.locator("tbody tr").count() == 4  # books changed; games, platform, games' layout new
    assert "2 new" not in page.locator(".config-summary").inner_text()
    assert "3 new · 1 changed · 0 unchanged" in " ".join(page.locator(".config-summary").inner_text().split())
    assert not Department.objects.filter(slug="games").exists()
    assert_accessible(page, context="the import's preview")
    shot(page, "console-config-preview")
    # and imports it
    page.get_by_role("button", name="Import these changes").click()
    page.get_by_text("Configuration imported: 3 items created, 1 changed, 0 unchanged.").wait_for()
    assert Department.objects.get(slug="games").description == "Video games and consoles"
    # a broken document says where, and keeps the text
    page.get_by_label("Or paste the document").fill(
        "schema: sportello/config/v1\nteams:\n- slug: x\n  name: X\n"
    )
    page.get_by_role("button", name="Preview the changes").click()
    page.get_by_text("Nothing was imported.").wait_for()
    assert "teams[0].department" in page.locator("#import-error").inner_text()
    assert "slug: x" in page.get_by_label("Or paste the document").input_value()
    assert_accessible(page, context="a refused import")


def test_export_and_import_fits_a_phone(desk: Any, phone_page: Any, sign_in: Any, url: Any) -> None:
    sign_in(phone_page, desk.admin)
    phone_page.goto(url("/console/config/"))
    no_sideways_overflow(phone_page)
    phone_page.get_by_label("Or paste the document").fill(DOCUMENT)
    phone_page.get_by_role("button", name="Preview the changes").click()
    phone_page.get_by_role("heading", name="Preview: what the import would change").wait_for()
    no_sideways_overflow(phone_page)
    shot(phone_page, "console-config-phone")
