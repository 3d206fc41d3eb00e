"""The agents' knowledge base in a real browser: Bruno creates an article in English, adds the
Italian translation, publishes both, edits the English (the Italian is then marked Outdated),
opens the versions, reads the diff and restores the first text. Every page is checked with
axe-core, and on a 390 px phone nothing overflows sideways."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, shot


def _section(desk: Any, now: datetime) -> Any:
    from sportello.kb.services import category_create, section_create

    category = category_create(
        slug="orders", title={"en": "Orders", "it": "Ordini"}, actor=desk.admin, now=now
    )
    return section_create(
        category=category, slug="returns", title={"en": "Returns", "it": "Resi"}, actor=desk.admin, now=now
    )


def test_write_translate_publish_edit_and_restore_an_article(
    desk: Any, now: datetime, page: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    _section(desk, now)
    sign_in(page, desk.agent)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge base").click()
    page.wait_for_url(url("/kb/"))
    assert_accessible(page, context="the empty knowledge base")
    page.get_by_text("New article").click()
    new = page.locator(".kb-new-form")
    new.get_by_label("Section").select_option(label="Orders / Returns")
    new.get_by_label("Language").select_option("en")
    new.get_by_role("button", name="Create and edit").click()

    # the English text, published
    page.get_by_label("Title").fill("Return a damaged parcel")
    page.get_by_label("Summary").fill("How to send back a parcel that arrived broken.")
    page.get_by_label("Body (HTML)").fill("<p>Print the label.</p>\n<p>Drop the parcel at a post office.</p>")
    page.get_by_label("State").select_option("public")
    page.get_by_label("Note about this change").fill("First text")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved.").wait_for()
    assert page.get_by_role("link", name="Open the public page").is_visible()
    shot(page, "kb-editor")
    assert_accessible(page, context="the editor")

    # the Italian translation, added from the sidebar
    page.get_by_role("link", name="+ Add IT").click()
    page.get_by_label("Title").fill("Restituire un pacco danneggiato")
    page.get_by_label("Body (HTML)").fill("<p>Stampa l'etichetta.</p>")
    page.get_by_label("State").select_option("public")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved.").wait_for()

    # the English text changes: the Italian is now outdated
    page.get_by_role("link", name="Return a damaged parcel").click()
    body = page.get_by_label("Body (HTML)")
    body.fill("<p>Print the prepaid label.</p>\n<p>Drop the parcel at a post office.</p>")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved.").wait_for()
    side = page.get_by_role("complementary", name="About this article")
    assert "Outdated" in side.inner_text()
    page.goto(url("/kb/"))
    row = page.locator(".kb-row", has_text="Return a damaged parcel")
    assert "IT · Public" in row.inner_text()
    assert "Outdated" in row.inner_text()
    shot(page, "kb-index")
    assert_accessible(page, context="the knowledge base index")

    # the versions: the diff of version 2, then restore version 1
    row.get_by_role("link", name="Return a damaged parcel").click()
    page.get_by_role("link", name="Versions").click()
    page.get_by_role("heading", name="Changes from version 1 to 2").wait_for()
    assert page.locator(".kb-diff del", has_text="Print the label.").count() == 1
    assert page.locator(".kb-diff ins", has_text="Print the prepaid label.").count() == 1
    shot(page, "kb-versions")
    assert_accessible(page, context="the versions page")
    page.get_by_role("button", name="Restore 1").click()
    page.get_by_role("heading", name="Changes from version 2 to 3").wait_for()
    assert page.locator(".kb-table tbody tr").count() == 3
    assert "Restored version 1" in page.locator(".kb-table").inner_text()
    page.get_by_role("link", name="Return a damaged parcel").click()
    assert "Print the label." in page.get_by_label("Body (HTML)").input_value()

    # on a phone: every page fits
    sign_in(phone_page, desk.agent)
    editor = page.url.removeprefix(url("")).lstrip("/")
    for name, path in (("index", "kb/"), ("editor", editor), ("versions", editor + "versions/")):
        phone_page.goto(url("/" + path))
        shot(phone_page, f"kb-{name}-phone")
        no_sideways_overflow(phone_page)
    shot(phone_page, "kb-versions-phone")
    assert_accessible(phone_page, context="the versions page on a phone")


def test_choose_departments_and_related_articles_and_meet_a_stale_save(
    desk: Any, now: datetime, page: Any, phone_page: Any, sign_in: Any, url: Any
) -> None:
    from sportello.kb.models import Article
    from sportello.kb.services import article_create, article_settings_save, translation_save

    section = _section(desk, now)
    articles = []
    for title in ("Return a damaged parcel", "Print a return label"):
        article = article_create(section=section, source_language="en", actor=desk.agent, now=now)
        translation_save(
            article=article, language="en", title=title, body_html="<p>Steps.</p>", state="public",
            actor=desk.agent, now=now,
        )  # fmt: skip
        articles.append(article)
    returns, label = articles
    sign_in(page, desk.agent)
    page.goto(url(f"/kb/articles/{returns.pk}/en/"))
    settings = page.get_by_role("region", name="Who sees it, what it relates to")
    assert "Linked to 0 tickets." in page.locator("#kb-ticket-count").inner_text()
    # Bruno chooses Books and relates the label article, then saves
    settings.get_by_role("group", name="Departments").get_by_label("Books").check()
    settings.get_by_role("group", name="Related articles").get_by_label("Print a return label").check()
    settings.get_by_role("button", name="Save departments and related articles").click()
    settings = page.get_by_role("region", name="Who sees it, what it relates to")
    settings.get_by_text("Saved.").wait_for()
    assert settings.get_by_label("Books").is_checked()
    assert not settings.get_by_label("Electronics").is_checked()
    side = page.get_by_role("complementary", name="About this article")
    assert side.get_by_role("link", name="Print a return label").is_visible()
    assert list(Article.objects.get(pk=returns.pk).departments.values_list("name", flat=True)) == ["Books"]
    assert list(label.related.values_list("pk", flat=True)) == [returns.pk]  # both ways
    shot(page, "kb-editor-settings")
    assert_accessible(page, context="the editor's departments and related articles")

    # a colleague changes the departments meanwhile: Bruno's next save is refused, his choice kept
    article_settings_save(
        article=returns, departments=[desk.electronics], related=[label], actor=desk.admin, now=now
    )
    settings.get_by_label("Books").uncheck()
    settings.get_by_role("button", name="Save departments and related articles").click()
    stale = page.get_by_role("alert").filter(has_text="Someone else changed this article's departments")
    stale.wait_for()
    assert "Now: Electronics" in stale.inner_text()
    settings = page.get_by_role("region", name="Who sees it, what it relates to")
    assert not settings.get_by_label("Books").is_checked()
    assert_accessible(page, context="the editor's stale departments")
    # saving again, now that he has seen the current ones, goes through
    settings.get_by_role("button", name="Save departments and related articles").click()
    page.get_by_role("region", name="Who sees it, what it relates to").get_by_text("Saved.").wait_for()
    assert not Article.objects.get(pk=returns.pk).departments.exists()

    # on a phone the editor with its choices fits
    sign_in(phone_page, desk.agent)
    phone_page.goto(url(f"/kb/articles/{returns.pk}/en/"))
    no_sideways_overflow(phone_page)
    assert_accessible(phone_page, context="the editor on a phone")
