"""`/api/v1/kb/…`: what the knowledge base's operations answer (who may call which is in
tests/api/test_permission_matrix.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from sportello.kb.models import ArticleTicketLink, ArticleTranslation, ArticleVersion

pytestmark = pytest.mark.django_db

BODY: dict[str, Any] = {"title": "Returns", "body_html": "<p>Send it back.</p>", "state": "draft"}


def test_create_category_section_article_and_translate(desk: Any, api: Any) -> None:
    client = api(desk.agent)
    r = client.post("/kb/categories", {"slug": "orders", "title": {"en": "Orders", "it": "Ordini"}})
    assert r.status_code == 201, r.content
    category = r.json()
    r = client.post(
        f"/kb/categories/{category['id']}/sections", {"slug": "returns", "title": {"en": "Returns"}}
    )
    assert r.status_code == 201
    section = r.json()
    r = client.post("/kb/articles", {"section_id": section["id"], "source_language": "en",
                                     "department_ids": [desk.books.pk]})  # fmt: skip
    assert r.status_code == 201
    article = r.json()
    assert (article["translations"], article["department_ids"]) == ([], [desk.books.pk])
    r = client.put(
        f"/kb/articles/{article['id']}/translations/en", {**BODY, "state": "public", "expected_version": 0}
    )
    assert r.status_code == 200
    saved = r.json()
    assert (saved["version"], saved["slug"], saved["state"], saved["body_text"]) == (
        1,
        "returns",
        "public",
        "Send it back.",
    )
    assert saved["public_url"] == f"/portal/kb/en/a/{article['id']}-returns/"
    r = client.put(
        f"/kb/articles/{article['id']}/translations/it", {**BODY, "title": "Resi", "expected_version": 0}
    )
    assert r.json()["public_url"] is None
    listed = client.get("/kb/categories").json()["items"]
    assert [(c["slug"], [s["slug"] for s in c["sections"]]) for c in listed] == [("orders", ["returns"])]
    items = client.get("/kb/articles", {"state": "public"}).json()["items"]
    assert [[t["language"] for t in a["translations"]] for a in items] == [["en", "it"]]
    assert client.get("/kb/articles", {"language": "es"}).json()["items"] == []


def test_stale_put_is_409_and_keeps_the_text(desk: Any, api: Any, kb_article: Any) -> None:
    client = api(desk.agent)
    path = f"/kb/articles/{kb_article.pk}/translations/en"
    assert client.put(path, {**BODY, "expected_version": 0}).status_code == 200
    assert client.put(path, {**BODY, "title": "Two", "expected_version": 1}).status_code == 200
    r = client.put(path, {**BODY, "title": "Three", "expected_version": 1})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale_translation"
    assert ArticleTranslation.objects.get(article=kb_article).title == "Two"


def test_versions_diff_and_restore(desk: Any, api: Any, kb_article: Any) -> None:
    client = api(desk.admin)
    path = f"/kb/articles/{kb_article.pk}/translations/en"
    client.put(path, {**BODY, "body_html": "<p>One</p><p>Keep</p>"})
    client.put(
        path, {**BODY, "title": "Returns, again", "body_html": "<p>Two</p><p>Keep</p>", "note": "clearer"}
    )
    versions = client.get(f"{path}/versions").json()["items"]
    assert [(v["number"], v["note"]) for v in versions] == [(2, "clearer"), (1, "")]
    diff = client.get(f"{path}/diff", {"a": 1, "b": 2}).json()
    assert [c["field"] for c in diff["changes"]] == ["title", "body_html"]
    assert diff["changes"][1]["lines"] == [
        {"kind": "removed", "text": "<p>One</p>"},
        {"kind": "added", "text": "<p>Two</p>"},
        {"kind": "same", "text": "<p>Keep</p>"},
    ]
    r = client.post(f"{path}/restore", {"number": 1, "expected_version": 2})
    assert (r.status_code, r.json()["version"], r.json()["title"]) == (200, 3, "Returns")
    assert client.post(f"{path}/restore", {"number": 1, "expected_version": 2}).status_code == 409
    assert client.get(f"{path}/diff", {"a": 1, "b": 9}).status_code == 404


def test_light_agents_read_internal_and_public_only(
    desk: Any, api: Any, kb_section: Any, now: datetime
) -> None:
    from sportello.kb import services

    drafts = services.article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    services.translation_save(article=drafts, language="en", actor=desk.agent, now=now, **BODY)
    internal = services.article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    services.translation_save(
        article=internal, language="en", actor=desk.agent, now=now, **{**BODY, "state": "internal"}
    )
    services.translation_save(article=internal, language="it", actor=desk.agent, now=now, **BODY)
    light = api(desk.light)
    items = light.get("/kb/articles").json()["items"]
    assert [(a["id"], [t["language"] for t in a["translations"]]) for a in items] == [(internal.pk, ["en"])]
    assert light.get(f"/kb/articles/{drafts.pk}").status_code == 404
    assert light.get(f"/kb/articles/{internal.pk}/translations/it").status_code == 404
    assert light.put(f"/kb/articles/{internal.pk}/translations/en", BODY).status_code == 403
    assert len(api(desk.agent).get("/kb/articles").json()["items"]) == 2


def test_related_and_archive(desk: Any, api: Any, kb_section: Any, kb_article: Any, now: datetime) -> None:
    from sportello.kb import services

    other = services.article_create(section=kb_section, source_language="en", actor=desk.agent, now=now)
    client = api(desk.agent)
    r = client.put(f"/kb/articles/{kb_article.pk}/related", {"article_ids": [other.pk]})
    assert r.json()["related_ids"] == [other.pk]
    assert client.get(f"/kb/articles/{other.pk}").json()["related_ids"] == [kb_article.pk]
    assert client.put(f"/kb/articles/{kb_article.pk}/related", {"article_ids": [999999]}).status_code == 422
    r = client.patch(f"/kb/articles/{kb_article.pk}", {"is_archived": True})
    assert r.json()["is_archived"] is True
    assert [a["id"] for a in client.get("/kb/articles").json()["items"]] == [other.pk]


def test_upload_and_download_an_attachment(
    desk: Any, api: Any, kb_article: Any, attachment_store: Any
) -> None:
    import io

    client = api(desk.agent)
    upload = io.BytesIO(b"\x89PNG\r\n\x1a\n0000")
    upload.name = "label.png"
    r = client.client.post(f"/api/v1/kb/articles/{kb_article.pk}/attachments", data={"file": upload},
                           headers=client.headers)  # fmt: skip
    assert r.status_code == 201, r.content
    file = r.json()
    assert (file["filename"], file["content_type"], file["url"]) == (
        "label.png",
        "image/png",
        f"/kb/files/{file['id']}/label.png",
    )
    r = client.get(f"/kb/attachments/{file['id']}/download")
    assert b"".join(r.streaming_content) == b"\x89PNG\r\n\x1a\n0000"
    # A body may show it.
    img = f'<img src="{file["url"]}" alt="Label">'
    saved = client.put(f"/kb/articles/{kb_article.pk}/translations/en", {**BODY, "body_html": img}).json()
    assert saved["body_html"] == img


def test_save_as_article(desk: Any, api: Any, solved_ticket: Any) -> None:
    r = api(desk.agent).post("/kb/articles/from-ticket", {"ticket_id": solved_ticket.pk})
    assert r.status_code == 201
    article = r.json()
    (translation,) = article["translations"]
    assert translation["state"] == "draft"
    assert "alice@acme.test" not in translation["body_html"]
    assert ArticleTicketLink.objects.filter(ticket=solved_ticket, article_id=article["id"]).count() == 1
    assert ArticleVersion.objects.filter(translation__article_id=article["id"]).count() == 1


def test_validation_errors_name_the_field(desk: Any, api: Any, kb_article: Any) -> None:
    client = api(desk.agent)
    r = client.put(f"/kb/articles/{kb_article.pk}/translations/fr", BODY)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "language")
    r = client.post("/kb/categories", {"slug": "Bad slug", "title": {"en": "x"}})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "slug")
    assert not ArticleTranslation.objects.exists()
