"""The agents' knowledge-base pages: index, editor, versions, "Save as article"."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from sportello.kb.models import Article, ArticleTranslation, ArticleVersion
from sportello.kb.services import translation_save

pytestmark = pytest.mark.django_db


def _save(article: Any, actor: Any, now: datetime, language: str = "en", **kw: Any) -> Any:
    values: dict[str, Any] = {
        "title": "Return a parcel",
        "body_html": "<p>Print the label.</p>",
        "state": "draft",
    }
    values.update(kw)
    return translation_save(article=article, language=language, actor=actor, now=now, **values)


def _form(**kw: Any) -> dict[str, Any]:
    data = {
        "title": "Return a parcel",
        "summary": "",
        "keywords": "",
        "body_html": "<p>Print the label.</p>",
        "state": "draft",
        "note": "",
        "expected_version": "0",
    }
    data.update({k: str(v) for k, v in kw.items()})
    return data


def test_index_lists_articles_with_a_badge_per_language_and_missing_ones(
    desk: Any, kb_article: Any, browser: Any, now: datetime, django_assert_num_queries: Any
) -> None:
    _save(kb_article, desk.agent, now, state="public")
    _save(kb_article, desk.agent, now, language="it", title="Rendere un pacco")
    _save(kb_article, desk.agent, now, title="Return a parcel, v2", expected_version=1, state="public")
    client = browser(desk.agent)
    client.get("/kb/")  # warm the session and caches
    with django_assert_num_queries(6):
        response = client.get("/kb/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Return a parcel, v2" in html
    assert "EN · Public" in html
    assert "IT · Draft" in html
    assert "Outdated" in html
    assert f'href="/kb/articles/{kb_article.pk}/es/"' in html  # "+ es"
    assert "New article" in html


def test_index_statement_count_does_not_grow_with_articles(
    desk: Any, kb_section: Any, browser: Any, now: datetime, django_assert_num_queries: Any
) -> None:
    from sportello.kb.services import article_create

    for i in range(5):
        article = article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
        _save(article, desk.agent, now, title=f"Article {i}")
    client = browser(desk.agent)
    client.get("/kb/")
    with django_assert_num_queries(6):
        assert client.get("/kb/").status_code == 200


def test_index_hides_drafts_from_light_agents_and_offers_no_new_article(
    desk: Any, kb_article: Any, browser: Any, now: datetime
) -> None:
    _save(kb_article, desk.agent, now, title="Secret draft")
    html = browser(desk.light).get("/kb/").content.decode()
    assert "Secret draft" not in html
    assert "New article" not in html


def test_index_filters_and_search(desk: Any, kb_article: Any, browser: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, title="Refund timing", state="internal")
    client = browser(desk.agent)
    assert "Refund timing" not in client.get("/kb/?state=public").content.decode()
    assert "Refund timing" in client.get("/kb/?state=internal&lang=en").content.decode()
    found = client.get("/kb/?q=refund").content.decode()
    assert "Refund timing" in found
    assert "No article matches." in client.get("/kb/?q=zebra").content.decode()


def test_new_article_opens_its_editor(desk: Any, kb_section: Any, browser: Any) -> None:
    response = browser(desk.agent).post(
        "/kb/articles/new/", {"section": kb_section.pk, "source_language": "it"}
    )
    article = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/kb/articles/{article.pk}/it/"
    assert article.source_language == "it"
    assert article.created_by == desk.agent


def test_light_agent_cannot_create_an_article(desk: Any, kb_section: Any, browser: Any) -> None:
    response = browser(desk.light).post(
        "/kb/articles/new/", {"section": kb_section.pk, "source_language": "en"}
    )
    assert response.status_code == 403
    assert not Article.objects.exists()


def test_editor_saves_a_new_translation_sanitised(desk: Any, kb_article: Any, browser: Any) -> None:
    client = browser(desk.agent)
    assert client.get(f"/kb/articles/{kb_article.pk}/en/").status_code == 200
    response = client.post(
        f"/kb/articles/{kb_article.pk}/en/",
        _form(body_html="<p>Hi<script>alert(1)</script></p>", note="first", state="public"),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/kb/articles/{kb_article.pk}/en/?saved=1"
    t = ArticleTranslation.objects.get(article=kb_article, language="en")
    assert t.version == 1
    assert t.state == "public"
    assert "script" not in t.body_html
    assert ArticleVersion.objects.get(translation=t).note == "first"
    page = client.get(response["Location"]).content.decode()
    assert "Saved." in page
    assert f"/portal/kb/en/a/{kb_article.pk}-" in page


def test_editor_stale_save_keeps_the_typed_text_and_links_to_the_latest(
    desk: Any, kb_article: Any, browser: Any, now: datetime
) -> None:
    _save(kb_article, desk.admin, now)
    _save(kb_article, desk.admin, now, title="Changed meanwhile", expected_version=1)
    response = browser(desk.agent).post(
        f"/kb/articles/{kb_article.pk}/en/", _form(title="My typed title", expected_version=1)
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "My typed title" in html
    assert "Someone else saved this translation" in html
    assert "Open the latest version (2)" in html
    t = ArticleTranslation.objects.get(article=kb_article, language="en")
    assert (t.version, t.title) == (2, "Changed meanwhile")


def test_editor_missing_title_is_an_inline_error(desk: Any, kb_article: Any, browser: Any) -> None:
    response = browser(desk.agent).post(f"/kb/articles/{kb_article.pk}/en/", _form(title=""))
    assert response.status_code == 422
    assert 'id="id_title-error"' in response.content.decode()
    assert not ArticleTranslation.objects.exists()


def test_light_agent_reads_but_cannot_save(desk: Any, kb_article: Any, browser: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, state="internal", body_html="<p>Internal steps</p>")
    client = browser(desk.light)
    page = client.get(f"/kb/articles/{kb_article.pk}/en/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Internal steps" in html
    assert "<textarea" not in html
    response = client.post(f"/kb/articles/{kb_article.pk}/en/", _form(title="Hacked", expected_version=1))
    assert response.status_code == 403
    assert ArticleTranslation.objects.get().title == "Return a parcel"
    assert client.get(f"/kb/articles/{kb_article.pk}/en/versions/").status_code == 404


def test_light_agent_does_not_see_a_draft(desk: Any, kb_article: Any, browser: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now)
    assert browser(desk.light).get(f"/kb/articles/{kb_article.pk}/en/").status_code == 404


def test_missing_article_or_language_is_404(desk: Any, kb_article: Any, browser: Any) -> None:
    client = browser(desk.agent)
    assert client.get("/kb/articles/999999/en/").status_code == 404
    assert client.get(f"/kb/articles/{kb_article.pk}/xx/").status_code == 404
    assert client.post("/kb/articles/999999/en/", _form()).status_code == 404
    assert client.get(f"/kb/articles/{kb_article.pk}/en/versions/").status_code == 404


def test_signed_out_is_sent_to_login(kb_article: Any, client: Any) -> None:
    response = client.get(f"/kb/articles/{kb_article.pk}/en/")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_versions_list_diff_and_restore(desk: Any, kb_article: Any, browser: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, body_html="<p>Old line</p><p>Kept</p>", note="start")
    _save(kb_article, desk.admin, now, body_html="<p>New line</p><p>Kept</p>", expected_version=1)
    client = browser(desk.agent)
    html = client.get(f"/kb/articles/{kb_article.pk}/en/versions/").content.decode()
    assert "start" in html
    assert "Ada Admin" in html
    assert "Changes from version 1 to 2" in html
    assert '<del><span class="visually-hidden">Removed: </span>&lt;p&gt;Old line&lt;/p&gt;</del>' in html
    assert '<ins><span class="visually-hidden">Added: </span>&lt;p&gt;New line&lt;/p&gt;</ins>' in html
    stale = client.post(f"/kb/articles/{kb_article.pk}/en/versions/", {"number": 1, "expected_version": 1})
    assert stale.status_code == 409
    assert ArticleTranslation.objects.get().version == 2
    response = client.post(f"/kb/articles/{kb_article.pk}/en/versions/", {"number": 1, "expected_version": 2})
    assert response.status_code == 302
    t = ArticleTranslation.objects.get()
    assert (t.version, t.body_html) == (3, "<p>Old line</p><p>Kept</p>")


def test_save_as_article_from_a_solved_ticket(desk: Any, solved_ticket: Any, browser: Any) -> None:
    client = browser(desk.agent)
    page = client.get(f"/tickets/{solved_ticket.pk}/").content.decode()
    assert f'action="/kb/from-ticket/{solved_ticket.pk}/"' in page
    response = client.post(f"/kb/from-ticket/{solved_ticket.pk}/")
    article = Article.objects.get()
    assert response["Location"] == f"/kb/articles/{article.pk}/{article.source_language}/"
    assert article.translations.get().state == "draft"


def test_save_as_article_is_not_offered_to_light_agents(desk: Any, solved_ticket: Any, browser: Any) -> None:
    client = browser(desk.light)
    page = client.get(f"/tickets/{solved_ticket.pk}/").content.decode()
    assert "/kb/from-ticket/" not in page
    assert client.post(f"/kb/from-ticket/{solved_ticket.pk}/").status_code == 403
    assert not Article.objects.exists()


def test_nav_links_to_the_knowledge_base(desk: Any, browser: Any) -> None:
    assert 'href="/kb/"' in browser(desk.light).get("/kb/").content.decode()


# -- departments and related articles ------------------------------------------------------------


def _settings(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"expected_departments": "", "expected_related": ""}
    data.update(kw)
    return data


def test_editor_saves_departments_and_related_articles(
    desk: Any, kb_section: Any, kb_article: Any, browser: Any, now: datetime
) -> None:
    from sportello.core.models import ConfigSnapshot
    from sportello.kb.services import article_create

    other = article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    _save(other, desk.agent, now, title="Print a label")
    client = browser(desk.agent)
    page = client.get(f"/kb/articles/{kb_article.pk}/en/").content.decode()
    assert f'action="/kb/articles/{kb_article.pk}/en/settings/"' in page
    assert "Print a label" in page  # offered as related
    assert "Linked to 0 tickets." in page
    before = ConfigSnapshot.objects.filter(kind="kb_articles", key=str(kb_article.pk)).count()
    response = client.post(
        f"/kb/articles/{kb_article.pk}/en/settings/",
        _settings(departments=[desk.books.pk], related=[other.pk]),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/kb/articles/{kb_article.pk}/en/?saved=settings"
    kb_article.refresh_from_db()
    assert list(kb_article.departments.values_list("pk", flat=True)) == [desk.books.pk]
    assert list(kb_article.related.values_list("pk", flat=True)) == [other.pk]
    assert list(other.related.values_list("pk", flat=True)) == [kb_article.pk]  # both ways
    # One change, recorded once (the first save also records what it was before).
    assert (
        ConfigSnapshot.objects.filter(kind="kb_articles", key=str(kb_article.pk)).count()
        == max(before, 1) + 1
    )
    page = client.get(response["Location"]).content.decode()
    assert "Saved." in page
    assert re.search(rf'name="departments" value="{desk.books.pk}"[^>]*checked', page)
    assert re.search(rf'name="related" value="{other.pk}"[^>]*checked', page)


def test_editor_settings_stale_save_keeps_the_choices_and_shows_the_current_ones(
    desk: Any, kb_section: Any, kb_article: Any, browser: Any, now: datetime
) -> None:
    from sportello.kb.services import article_settings_save

    # Given the editor loaded the article serving every department, when a colleague sets
    # Electronics meanwhile and the agent saves Books, then nothing is written and the page says so.
    article_settings_save(
        article=kb_article, departments=[desk.electronics], related=[], actor=desk.admin, now=now
    )
    response = browser(desk.agent).post(
        f"/kb/articles/{kb_article.pk}/en/settings/", _settings(departments=[desk.books.pk])
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="kb-settings-stale"' in html
    assert "Now: Electronics" in html
    assert f'name="expected_departments" value="{desk.electronics.pk}"' in html  # a second save goes through
    assert list(kb_article.departments.values_list("pk", flat=True)) == [desk.electronics.pk]


def test_editor_settings_unknown_choice_is_an_inline_error(desk: Any, kb_article: Any, browser: Any) -> None:
    response = browser(desk.agent).post(
        f"/kb/articles/{kb_article.pk}/en/settings/", _settings(departments=["999999"], related=["888888"])
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_departments-error"' in html
    assert 'id="id_related-error"' in html
    assert not kb_article.departments.exists()


def test_light_agents_do_not_change_departments(
    desk: Any, kb_article: Any, browser: Any, now: datetime
) -> None:
    _save(kb_article, desk.agent, now, state="internal")
    client = browser(desk.light)
    assert "/settings/" not in client.get(f"/kb/articles/{kb_article.pk}/en/").content.decode()
    response = client.post(
        f"/kb/articles/{kb_article.pk}/en/settings/", _settings(departments=[desk.books.pk])
    )
    assert response.status_code == 403
    assert not kb_article.departments.exists()


# -- the composer's picker and the ticket's linked articles --------------------------------------


def test_picker_offers_public_articles_for_a_reply_and_internal_ones_for_a_note(
    desk: Any, kb_section: Any, kb_article: Any, open_ticket: Any, browser: Any, now: datetime
) -> None:
    from sportello.kb.services import article_create

    _save(kb_article, desk.agent, now, title="Return a parcel", state="public")
    internal = article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    _save(internal, desk.agent, now, title="Return a parcel by courier", state="internal")
    ticket = open_ticket("Return")
    client = browser(desk.agent)
    reply = client.get(
        f"/kb/ticket/{ticket.pk}/insert/", {"q": "return parcel", "kind": "public"}
    ).content.decode()
    assert f"/portal/kb/en/a/{kb_article.pk}-return-a-parcel/" in reply
    assert "by courier" not in reply
    note = client.get(
        f"/kb/ticket/{ticket.pk}/insert/", {"q": "return parcel", "kind": "internal"}
    ).content.decode()
    assert f"/kb/articles/{internal.pk}/en/" in note
    assert f"/portal/kb/en/a/{kb_article.pk}-return-a-parcel/" in note
    empty = client.get(f"/kb/ticket/{ticket.pk}/insert/", {"q": "", "kind": "public"}).content.decode()
    assert "Type to search the public articles." in empty


def test_picker_and_linked_articles_of_an_invisible_ticket_are_404(
    desk: Any, open_ticket: Any, browser: Any
) -> None:
    ticket = open_ticket("Electronics only", department=desk.electronics)
    client = browser(desk.agent)
    assert client.get(f"/kb/ticket/{ticket.pk}/insert/", {"q": "x"}).status_code == 404
    assert client.get(f"/kb/ticket/{ticket.pk}/articles/").status_code == 404


def test_ticket_page_loads_its_linked_articles(
    desk: Any, kb_article: Any, open_ticket: Any, browser: Any, now: datetime, settings: Any
) -> None:
    from sportello.core.actors import Via
    from sportello.tickets.services import message_add

    _save(kb_article, desk.agent, now, title="Return a parcel", state="public")
    ticket = open_ticket("Return")
    root = str(settings.SPORTELLO["PUBLIC_URL"]).rstrip("/")
    message_add(
        principal=desk.agent, ticket_id=ticket.pk, via=Via.WEB,
        body=f"See [Return a parcel]({root}/portal/kb/en/a/{kb_article.pk}-return-a-parcel/)", body_html="",
        public=True, attachment_ids=[], version=None, now=now,
    )  # fmt: skip
    client = browser(desk.agent)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'hx-get="/kb/ticket/{ticket.pk}/articles/"' in page
    assert 'data-shortcut="l"' in page
    panel = client.get(f"/kb/ticket/{ticket.pk}/articles/").content.decode()
    assert "Linked articles" in panel
    assert f'href="/kb/articles/{kb_article.pk}/en/"' in panel
    assert "Linked in a reply" in panel
    editor = client.get(f"/kb/articles/{kb_article.pk}/en/").content.decode()
    assert "Linked to 1 ticket." in editor
