"""The knowledge base's services: categories, sections, articles, translations with versions,
the outdated mark, stale saves, restore, related articles, attachments and "Save as article"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from sportello.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from sportello.core.models import ConfigSnapshot
from sportello.kb import services
from sportello.kb.models import (
    Article,
    ArticleAttachment,
    ArticleTicketLink,
    ArticleTranslation,
    ArticleVersion,
    KbCategory,
    KbSection,
)

pytestmark = pytest.mark.django_db


def _save(article: Any, actor: Any, now: datetime, **kw: Any) -> ArticleTranslation:
    values: dict[str, Any] = {
        "language": "en",
        "title": "Returns",
        "body_html": "<p>Send it back.</p>",
        "state": "draft",
    }
    values.update(kw)
    return services.translation_save(article=article, actor=actor, now=now, **values)


# -- categories and sections ------------------------------------------------------------------


def test_category_create_records_history(desk: Any, now: datetime) -> None:
    category = services.category_create(
        slug="billing", title={"en": " Billing ", "it": "Fatture"}, actor=desk.agent, now=now
    )
    assert (category.slug, category.title, category.description) == (
        "billing",
        {"en": "Billing", "it": "Fatture"},
        {},
    )
    snapshot = ConfigSnapshot.objects.get(kind="kb_categories", key=str(category.pk))
    assert (snapshot.version, snapshot.created_by) == (1, desk.agent)
    assert snapshot.definition["title"] == {"en": "Billing", "it": "Fatture"}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"title": {}}, "title"),
        ({"title": {"fr": "Factures"}}, "title"),
        ({"title": {"en": "x" * 201}}, "title"),
        ({"position": -1}, "position"),
    ],
)
def test_category_create_refuses_bad_input(desk: Any, now: datetime, kw: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"slug": "billing", "title": {"en": "Billing"}}
    values.update(kw)
    with pytest.raises(ValidationFailed) as exc:
        services.category_create(**values, actor=desk.admin, now=now)
    assert exc.value.field == field
    assert not KbCategory.objects.exists()


def test_category_slug_taken_is_a_conflict(desk: Any, kb_section: Any, now: datetime) -> None:
    with pytest.raises(Conflict):
        services.category_create(slug="orders", title={"en": "Again"}, actor=desk.admin, now=now)
    assert KbCategory.objects.count() == 1


def test_light_agents_and_customers_do_not_write(desk: Any, kb_section: Any, now: datetime) -> None:
    for who in (desk.light, desk.alice):
        with pytest.raises(PermissionDenied):
            services.category_create(slug="x", title={"en": "X"}, actor=who, now=now)
        with pytest.raises(PermissionDenied):
            services.article_create(section=kb_section, source_language="en", actor=who, now=now)
    assert KbCategory.objects.count() == 1
    assert not Article.objects.exists()


def test_category_update_changes_and_records_only_changes(desk: Any, kb_section: Any, now: datetime) -> None:
    category = kb_section.category
    later = now + timedelta(minutes=1)
    updated = services.category_update(
        category=category, actor=desk.agent, now=later, title={"en": "Orders & returns"}, is_active=False
    )
    assert (updated.title, updated.is_active, updated.updated_at) == (
        {"en": "Orders & returns"},
        False,
        later,
    )
    versions = list(
        ConfigSnapshot.objects.filter(kind="kb_categories", key=str(category.pk)).values_list(
            "version", flat=True
        )
    )
    assert versions == [1, 2]
    services.category_update(category=category, actor=desk.agent, now=later, title={"en": "Orders & returns"})
    assert ConfigSnapshot.objects.filter(kind="kb_categories", key=str(category.pk)).count() == 2


def test_section_slug_unique_within_its_category(desk: Any, kb_section: Any, now: datetime) -> None:
    with pytest.raises(Conflict):
        services.section_create(
            category=kb_section.category, slug="returns", title={"en": "x"}, actor=desk.admin, now=now
        )
    other = services.category_create(slug="other", title={"en": "Other"}, actor=desk.admin, now=now)
    services.section_create(
        category=other, slug="returns", title={"en": "Returns"}, actor=desk.admin, now=now
    )
    assert KbSection.objects.filter(slug="returns").count() == 2


# -- articles and translations ----------------------------------------------------------------


def test_article_create(desk: Any, kb_section: Any, now: datetime) -> None:
    article = services.article_create(
        section=kb_section,
        source_language="it",
        departments=[desk.books],
        key="broken-parcel",
        actor=desk.agent,
        now=now,
    )
    assert (article.source_language, article.key, article.created_by) == ("it", "broken-parcel", desk.agent)
    assert list(article.departments.all()) == [desk.books]
    with pytest.raises(Conflict):
        services.article_create(
            section=kb_section, source_language="en", key="broken-parcel", actor=desk.agent, now=now
        )
    with pytest.raises(ValidationFailed):
        services.article_create(section=kb_section, source_language="fr", actor=desk.agent, now=now)
    assert Article.objects.count() == 1


def test_first_save_writes_version_one(desk: Any, kb_article: Any, now: datetime) -> None:
    t = _save(kb_article, desk.agent, now, title="Return a broken item", summary="How", keywords="refund")
    assert (t.language, t.title, t.slug, t.version, t.state, t.outdated) == (
        "en",
        "Return a broken item",
        "return-a-broken-item",
        1,
        "draft",
        False,
    )
    assert (t.body_html, t.body_text, t.published_at, t.updated_by) == (
        "<p>Send it back.</p>",
        "Send it back.",
        None,
        desk.agent,
    )
    v = ArticleVersion.objects.get(translation=t)
    assert (v.number, v.title, v.body_html, v.state, v.author) == (
        1,
        "Return a broken item",
        t.body_html,
        "draft",
        desk.agent,
    )


def test_body_is_sanitised(desk: Any, kb_article: Any, now: datetime) -> None:
    body = (
        '<h2 onclick="x()">Steps</h2><script>alert(1)</script><style>p{}</style>'
        '<ol><li><a href="javascript:alert(1)">bad</a> <a href="https://shop.example/">ok</a></li></ol>'
        '<table><tr><td colspan="2">cell</td></tr></table><pre><code>x = 1</code></pre>'
        '<img src="https://evil.example/x.png" alt="remote"><p style="color:red">text</p>'
    )
    t = _save(kb_article, desk.agent, now, body_html=body)
    assert t.body_html == (
        '<h2>Steps</h2><ol><li><a rel="noopener noreferrer nofollow">bad</a> '
        '<a href="https://shop.example/" rel="noopener noreferrer nofollow">ok</a></li></ol>'
        '<table><tbody><tr><td colspan="2">cell</td></tr></tbody></table><pre><code>x = 1</code></pre>'
        '<img alt="remote"><p>text</p>'
    )


def test_images_from_the_articles_own_attachments_stay(
    desk: Any, kb_article: Any, now: datetime, settings: Any, tmp_path: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    image = services.attachment_add(
        article=kb_article,
        filename="label.png",
        content_type="image/png",
        data=b"\x89PNG\r\n\x1a\nxx",
        actor=desk.agent,
        now=now,
    )
    own = f'<img src="/kb/files/{image.pk}/label.png" alt="label">'
    foreign = f'<img src="/kb/files/{image.pk + 1}/other.png" alt="other">'
    t = _save(kb_article, desk.agent, now, body_html=own + foreign)
    assert t.body_html == own + '<img alt="other">'


def test_save_without_change_writes_nothing(desk: Any, kb_article: Any, now: datetime) -> None:
    t = _save(kb_article, desk.agent, now)
    again = _save(kb_article, desk.admin, now + timedelta(minutes=1), note="nothing", expected_version=1)
    assert (again.version, again.updated_by, again.updated_at) == (1, desk.agent, now)
    assert ArticleVersion.objects.filter(translation=t).count() == 1


def test_stale_save_is_a_conflict_and_writes_nothing(desk: Any, kb_article: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now)
    _save(kb_article, desk.agent, now, title="Second", expected_version=1)
    with pytest.raises(Conflict) as exc:
        _save(kb_article, desk.admin, now, title="Third", expected_version=1)
    assert exc.value.code == "stale_translation"
    t = ArticleTranslation.objects.get(article=kb_article, language="en")
    assert (t.title, t.version) == ("Second", 2)
    assert ArticleVersion.objects.filter(translation=t).count() == 2


def test_expected_version_zero_means_a_new_translation(desk: Any, kb_article: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, expected_version=0)
    with pytest.raises(Conflict):
        _save(kb_article, desk.agent, now, title="Other", expected_version=0)
    assert ArticleTranslation.objects.get(article=kb_article).title == "Returns"


def test_published_at_set_once(desk: Any, kb_article: Any, now: datetime) -> None:
    t = _save(kb_article, desk.agent, now, state="public")
    assert t.published_at == now
    _save(kb_article, desk.agent, now + timedelta(hours=1), state="internal")
    t = _save(kb_article, desk.agent, now + timedelta(hours=2), state="public")
    assert (t.published_at, t.version) == (now, 3)


def test_source_text_change_marks_the_others_outdated(desk: Any, kb_article: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, state="public")
    it = _save(kb_article, desk.agent, now, language="it", title="Resi", body_html="<p>Rispediscilo.</p>")
    assert not it.outdated
    # A state change of the source alone is no new text.
    _save(kb_article, desk.agent, now, state="internal")
    assert not ArticleTranslation.objects.get(pk=it.pk).outdated
    _save(kb_article, desk.agent, now, body_html="<p>Send it back within 30 days.</p>", state="internal")
    it.refresh_from_db()
    assert it.outdated
    assert not ArticleTranslation.objects.get(article=kb_article, language="en").outdated
    # Saving the translation clears its mark, even without a change of text (a new version).
    it = _save(kb_article, desk.agent, now, language="it", title="Resi", body_html="<p>Rispediscilo.</p>")
    assert (it.outdated, it.version) == (False, 2)


def test_translation_save_validates(desk: Any, kb_article: Any, now: datetime) -> None:
    for kw, field in [
        ({"language": "fr"}, "language"),
        ({"state": "secret"}, "state"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 251}, "title"),
        ({"note": "n" * 301}, "note"),
        ({"body_html": "a\x00b"}, "body_html"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            _save(kb_article, desk.agent, now, **kw)
        assert exc.value.field == field
    assert not ArticleTranslation.objects.exists()


def test_unicode_slug(desk: Any, kb_article: Any, now: datetime) -> None:
    t = _save(kb_article, desk.agent, now, language="it", title="Perché il pacco è in ritardo?")
    assert t.slug == "perché-il-pacco-è-in-ritardo"


def test_restore_saves_the_old_text_as_a_new_version(desk: Any, kb_article: Any, now: datetime) -> None:
    _save(kb_article, desk.agent, now, title="One", body_html="<p>1</p>")
    t = _save(kb_article, desk.agent, now, title="Two", body_html="<p>2</p>", state="public")
    restored = services.translation_restore(
        translation=t, number=1, actor=desk.admin, now=now, expected_version=2
    )
    assert (restored.title, restored.body_html, restored.state, restored.version) == (
        "One",
        "<p>1</p>",
        "draft",
        3,
    )
    v3 = ArticleVersion.objects.get(translation=t, number=3)
    assert (v3.note, v3.author) == ("Restored version 1", desk.admin)
    with pytest.raises(Conflict):
        services.translation_restore(translation=t, number=2, actor=desk.admin, now=now, expected_version=2)
    with pytest.raises(NotFound):
        services.translation_restore(translation=t, number=9, actor=desk.admin, now=now)
    assert ArticleVersion.objects.filter(translation=t).count() == 3


def test_restore_of_the_current_text_writes_nothing(desk: Any, kb_article: Any, now: datetime) -> None:
    t = _save(kb_article, desk.agent, now)
    again = services.translation_restore(translation=t, number=1, actor=desk.admin, now=now)
    assert again.version == 1


def test_article_relate_both_ways(desk: Any, kb_section: Any, kb_article: Any, now: datetime) -> None:
    other = services.article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    third = services.article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    services.article_relate(article=kb_article, related=[other, kb_article, third], actor=desk.agent, now=now)
    assert set(kb_article.related.all()) == {other, third}
    assert list(other.related.all()) == [kb_article]
    services.article_relate(article=kb_article, related=[third], actor=desk.agent, now=now)
    assert list(kb_article.related.all()) == [third]
    assert not other.related.exists()


def test_article_update(desk: Any, kb_section: Any, kb_article: Any, now: datetime) -> None:
    other = services.section_create(
        category=kb_section.category, slug="refunds", title={"en": "Refunds"}, actor=desk.admin, now=now
    )
    later = now + timedelta(minutes=5)
    updated = services.article_update(
        article=kb_article,
        actor=desk.agent,
        now=later,
        section=other,
        departments=[desk.electronics],
        is_archived=True,
    )
    assert (updated.section, updated.is_archived, updated.updated_at) == (other, True, later)
    assert list(updated.departments.all()) == [desk.electronics]
    history = ConfigSnapshot.objects.filter(kind="kb_articles", key=str(kb_article.pk)).order_by("version")
    assert [h.definition["archived"] for h in history] == [False, True]


def test_attachment_add(desk: Any, kb_article: Any, now: datetime, settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    a = services.attachment_add(
        article=kb_article,
        filename="../guide.pdf",
        content_type="application/pdf",
        data=b"%PDF-1.4 hello",
        actor=desk.agent,
        now=now,
    )
    assert (a.filename, a.size, a.uploaded_by) == ("guide.pdf", 14, desk.agent)
    assert services.attachment_open(attachment=a).read() == b"%PDF-1.4 hello"
    with pytest.raises(ValidationFailed):
        services.attachment_add(
            article=kb_article,
            filename="e.txt",
            content_type="text/plain",
            data=b"",
            actor=desk.agent,
            now=now,
        )
    assert ArticleAttachment.objects.count() == 1


# -- "Save as article" ------------------------------------------------------------------------


def test_article_from_ticket(desk: Any, solved_ticket: Any, now: datetime) -> None:
    article = services.article_from_ticket(ticket_id=solved_ticket.pk, actor=desk.agent, now=now)
    t = ArticleTranslation.objects.get(article=article)
    assert (t.language, t.state, t.title) == ("en", "draft", "Broken parcel for [name]")
    for secret in ("alice@acme.test", "Alice", "Acme", "Bruno", "B1234567", "333 123", "s3cr3tT0k3n"):
        assert secret not in t.body_html
    assert "<h2>Question</h2>" in t.body_html
    assert "<h2>Answer</h2>" in t.body_html
    assert "[e-mail]" in t.body_html
    assert "[order]" in t.body_html
    assert "[phone]" in t.body_html
    assert "[link]" in t.body_html
    assert "post office" in t.body_html
    link = ArticleTicketLink.objects.get(ticket=solved_ticket)
    assert (link.article, link.kind, link.created_by) == (article, "source", desk.agent)
    assert ArticleVersion.objects.get(translation=t).note == f"Written from ticket #{solved_ticket.number}"
    # A second "Save as article" opens the same draft.
    assert services.article_from_ticket(ticket_id=solved_ticket.pk, actor=desk.admin, now=now) == article
    assert Article.objects.count() == 1


def test_article_from_ticket_in_another_language(desk: Any, solved_ticket: Any, now: datetime) -> None:
    article = services.article_from_ticket(
        ticket_id=solved_ticket.pk, actor=desk.agent, now=now, language="it"
    )
    t = ArticleTranslation.objects.get(article=article)
    assert (article.source_language, t.language) == ("it", "it")
    assert t.body_html.startswith("<h2>Domanda</h2>")


def test_article_from_an_open_ticket_is_refused(desk: Any, open_ticket: Any, now: datetime) -> None:
    ticket = open_ticket("Still open")
    with pytest.raises(ValidationFailed):
        services.article_from_ticket(ticket_id=ticket.pk, actor=desk.agent, now=now)
    assert not Article.objects.exists()


def test_article_from_an_invisible_ticket_is_not_found(desk: Any, solved_ticket: Any, now: datetime) -> None:
    with pytest.raises(NotFound):
        services.article_from_ticket(ticket_id=solved_ticket.pk, actor=desk.outsider, now=now)
    with pytest.raises(PermissionDenied):
        services.article_from_ticket(ticket_id=solved_ticket.pk, actor=desk.light, now=now)
    assert not Article.objects.exists()
    assert not ArticleTicketLink.objects.exists()
