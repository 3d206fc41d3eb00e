"""The public knowledge base's pages: who sees what, readable URLs, languages, the article page
and its files."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def html(response: Any) -> str:
    return response.content.decode()


def titles(response: Any) -> list[str]:
    return re.findall(r'<a href="/portal/kb/\w+/a/\d+-[^"]+"[^>]*>([^<]+)</a>', html(response))


# -- URLs and languages ----------------------------------------------------------------------


def test_root_redirects_to_the_readers_language(client: Client) -> None:
    r = client.get("/portal/kb/", headers={"accept-language": "es-ES,es;q=0.9"})
    assert (r.status_code, r["Location"]) == (302, "/portal/kb/es/")
    r = client.get("/portal/kb/", headers={"accept-language": "de"})
    assert r["Location"] == "/portal/kb/en/"


def test_an_unknown_language_is_not_found(client: Client, kb: Any) -> None:
    assert client.get("/portal/kb/de/").status_code == 404
    assert client.get(f"/portal/kb/de/a/{kb.track.pk}-track-your-order/").status_code == 404


def test_home_lists_topics_and_most_viewed_in_the_language(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/en/")
    assert r.status_code == 200
    page = html(r)
    assert '<html lang="en">' in page
    assert 'href="/portal/kb/en/c/orders/"' in page
    assert 'href="/portal/kb/en/c/orders/shipping/"' in page
    assert 'href="/portal/kb/en/c/orders/returns/"' in page
    # the most viewed first; internal, draft, archived, inactive category and Italian-only: absent
    assert titles(r) == ["Track your order", "Return an item"]
    assert "Old" not in re.sub(r"<[^>]+>", " ", page).split()


def test_home_in_spanish_speaks_spanish(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/es/")
    page = html(r)
    assert '<html lang="es">' in page
    assert "Pedidos" in page
    assert "Envíos" in page
    # Returns has no Spanish article: not listed
    assert "/portal/kb/es/c/orders/returns/" not in page
    assert titles(r) == ["Seguir tu pedido"]


def test_category_and_section_pages_list_the_visible_articles(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/en/c/orders/")
    assert r.status_code == 200
    assert titles(r) == ["Track your order", "Return an item"]
    r = client.get("/portal/kb/en/c/orders/shipping/")
    assert r.status_code == 200
    assert titles(r) == ["Track your order"]
    assert "Where your parcel is." in html(r)


def test_missing_and_inactive_categories_are_not_found(client: Client, kb: Any) -> None:
    assert client.get("/portal/kb/en/c/nothing/").status_code == 404
    assert client.get("/portal/kb/en/c/old/").status_code == 404
    assert client.get("/portal/kb/en/c/old/misc/").status_code == 404
    assert client.get("/portal/kb/en/c/orders/nothing/").status_code == 404


def test_agents_see_internal_and_editors_drafts_in_the_lists(browser: Any, desk: Any, kb: Any) -> None:
    assert titles(browser(desk.light).get("/portal/kb/en/c/orders/shipping/")) == [
        "Track your order",
        "Courier escalation codes",
    ]
    assert titles(browser(desk.agent).get("/portal/kb/en/c/orders/shipping/")) == [
        "Track your order",
        "Courier escalation codes",
        "New carrier coming",
    ]


# -- the article ------------------------------------------------------------------------------


def test_article_page_shows_the_article(client: Client, kb: Any) -> None:
    r = client.get(f"/portal/kb/en/a/{kb.track.pk}-track-your-order/")
    assert r.status_code == 200
    page = html(r)
    assert "<h1>Track your order</h1>" in page
    assert '<article class="kb-article" lang="en">' in page
    assert "Updated 3\xa0days ago" in page
    assert 'datetime="2026-10-30T09:30:00+00:00"' in page
    # breadcrumbs
    assert 'href="/portal/kb/en/c/orders/shipping/">Shipping</a>' in page
    # related: the public one only (the internal one is hidden)
    assert f'href="/portal/kb/en/a/{kb.returns.pk}-return-an-item/">Return an item</a>' in page
    assert "Courier escalation codes" not in page
    # the other languages it can be read in (Italian is internal: not offered)
    assert (
        f'<link rel="alternate" hreflang="es" href="http://testserver/portal/kb/es/a/{kb.track.pk}-seguir-tu-pedido/">'
        in page
    )
    assert '<link rel="alternate" hreflang="it"' not in page
    assert "may be behind the original" not in page


def test_a_wrong_or_missing_slug_redirects_permanently(client: Client, kb: Any) -> None:
    r = client.get(f"/portal/kb/en/a/{kb.track.pk}-old-title/")
    assert (r.status_code, r["Location"]) == (301, f"/portal/kb/en/a/{kb.track.pk}-track-your-order/")
    r = client.get(f"/portal/kb/en/a/{kb.track.pk}/")
    assert (r.status_code, r["Location"]) == (301, f"/portal/kb/en/a/{kb.track.pk}-track-your-order/")
    r = client.get(f"/portal/kb/es/a/{kb.track.pk}-track-your-order/")
    assert (r.status_code, r["Location"]) == (301, f"/portal/kb/es/a/{kb.track.pk}-seguir-tu-pedido/")


def test_an_outdated_translation_says_so(client: Client, kb: Any) -> None:
    r = client.get(f"/portal/kb/es/a/{kb.track.pk}-seguir-tu-pedido/")
    page = html(r)
    assert '<html lang="es">' in page
    assert "Esta traducción puede estar desactualizada respecto al original." in page


def test_an_article_without_the_language_is_shown_in_another_with_a_notice(client: Client, kb: Any) -> None:
    r = client.get(f"/portal/kb/en/a/{kb.italian.pk}-spedizioni-in-sardegna/")
    assert r.status_code == 200
    page = html(r)
    assert "This article is not available in English. It is shown in Italian." in page
    assert '<article class="kb-article" lang="it">' in page


@pytest.mark.parametrize("who", ["anonymous", "light", "agent", "admin"])
def test_archived_and_inactive_articles_are_not_found_for_anyone(
    client: Client, browser: Any, desk: Any, kb: Any, who: str
) -> None:
    reader = client if who == "anonymous" else browser(getattr(desk, who))
    assert reader.get(f"/portal/kb/en/a/{kb.archived.pk}-old-carrier/").status_code == 404
    assert reader.get(f"/portal/kb/en/a/{kb.hidden.pk}-hidden-away/").status_code == 404


def test_internal_and_draft_articles_look_missing_to_the_public(client: Client, kb: Any) -> None:
    missing = client.get("/portal/kb/en/a/999999-nothing/")
    for article, slug in ((kb.internal, "courier-escalation-codes"), (kb.draft, "new-carrier-coming")):
        r = client.get(f"/portal/kb/en/a/{article.pk}-{slug}/")
        assert r.status_code == 404
        assert r.content == missing.content
        # not even the bare id redirects
        assert client.get(f"/portal/kb/en/a/{article.pk}/").status_code == 404
    # the Italian internal translation is not offered as a fallback either
    r = client.get(f"/portal/kb/it/a/{kb.track.pk}-traccia-il-tuo-ordine/")
    assert r["Location"] == f"/portal/kb/it/a/{kb.track.pk}-track-your-order/"


def test_light_agents_read_internal_articles_but_not_drafts(browser: Any, desk: Any, kb: Any) -> None:
    light = browser(desk.light)
    r = light.get(f"/portal/kb/en/a/{kb.internal.pk}-courier-escalation-codes/")
    assert r.status_code == 200
    assert "only agents can see this article" in html(r)
    assert light.get(f"/portal/kb/en/a/{kb.draft.pk}-new-carrier-coming/").status_code == 404


def test_editors_preview_drafts_with_a_banner(browser: Any, desk: Any, kb: Any) -> None:
    for editor in (desk.agent, desk.admin):
        r = browser(editor).get(f"/portal/kb/en/a/{kb.draft.pk}-new-carrier-coming/")
        assert r.status_code == 200
        assert "this translation is a draft. Customers cannot see it." in html(r)


def test_a_hostile_stored_body_is_sanitised_again_on_output(client: Client, kb: Any) -> None:
    t = kb.tr(kb.returns)
    t.body_html = (
        '<p onclick="steal()">Hi</p><script>alert(1)</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">x</a><style>body{}</style><iframe src="//evil"></iframe>'
    )
    t.save(update_fields=["body_html"])
    page = html(client.get(f"/portal/kb/en/a/{kb.returns.pk}-return-an-item/"))
    body = page.split('<div class="kb-body">', 1)[1].split("</div>", 1)[0]
    for hostile in ("<script", "onclick", "onerror", "javascript:", "<style", "<iframe"):
        assert hostile not in body
    assert "<p>Hi</p>" in body


def test_attachments_are_listed_images_inline_files_with_size(client: Client, kb: Any) -> None:
    page = html(client.get(f"/portal/kb/en/a/{kb.returns.pk}-return-an-item/"))
    assert '<img src="/portal/kb/files/aa/bb/returnlabel/label.png" alt="label.png"' in page
    assert (
        '<a href="/portal/kb/files/aa/bb/returnform/return%20form.pdf" download>return form.pdf</a>' in page
    )
    assert "(13\xa0bytes)" in page
    # an SVG is a file to download, never an inline image
    assert '<a href="/portal/kb/files/aa/bb/returnsvg/map.svg" download>' in page
    assert '<img src="/portal/kb/files/aa/bb/returnsvg' not in page


# -- files --------------------------------------------------------------------------------------


def test_an_image_is_served_inline_with_its_type(client: Client, kb: Any) -> None:
    r = client.get("/portal/kb/files/aa/bb/returnlabel/label.png")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["Content-Disposition"].startswith("inline;")
    assert r["X-Content-Type-Options"] == "nosniff"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["aa/bb/returnform/return form.pdf", "aa/bb/returnsvg/map.svg"])
def test_other_files_are_downloads_of_opaque_bytes(client: Client, kb: Any, path: str) -> None:
    r = client.get(f"/portal/kb/files/{path}")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert r["Content-Disposition"].startswith("attachment;")
    assert r["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r["Content-Security-Policy"]


def test_probing_files_of_hidden_articles_is_not_found(
    client: Client, browser: Any, desk: Any, kb: Any
) -> None:
    assert client.get("/portal/kb/files/cc/dd/codes/codes.pdf").status_code == 404
    assert client.get("/portal/kb/files/aa/bb/returnlabel/other.png").status_code == 404
    assert client.get("/portal/kb/files/aa/bb/nothing/label.png").status_code == 404
    assert client.get("/portal/kb/files/../../etc/passwd/x").status_code == 404
    # staff may read the internal article, so its file too
    assert browser(desk.light).get("/portal/kb/files/cc/dd/codes/codes.pdf").status_code == 200
    # an archived article's files follow it
    from sportello.kb.models import Article

    Article.objects.filter(pk=kb.returns.pk).update(is_archived=True)
    assert client.get("/portal/kb/files/aa/bb/returnlabel/label.png").status_code == 404


def test_files_are_never_under_a_static_url(settings: Any) -> None:
    assert settings.STORAGES["attachments"]["OPTIONS"]["base_url"] is None


def test_an_article_updated_a_moment_ago_says_just_now(client: Client, kb: Any) -> None:
    page = html(client.get(f"/portal/kb/en/a/{kb.returns.pk}-return-an-item/"))
    assert 'title="Nov. 2, 2026, 9:30 a.m.">Updated just now</time>' in page


def test_images_in_the_body_point_at_their_public_address(client: Client, kb: Any) -> None:
    t = kb.tr(kb.returns)
    t.body_html = (
        f'<p><img src="/kb/files/{kb.image.pk}/label.png" alt="The label"></p>'
        f'<p><img src="/kb/files/{kb.internal_file.pk}/codes.pdf" alt="Other"></p>'
        f'<p><img src="/kb/files/{kb.svg.pk}/map.svg" alt="Map"></p>'
    )
    t.save(update_fields=["body_html"])
    page = html(client.get(f"/portal/kb/en/a/{kb.returns.pk}-return-an-item/"))
    body = page.split('<div class="kb-body">', 1)[1].split("</div>", 1)[0]
    assert '<img src="/portal/kb/files/aa/bb/returnlabel/label.png" alt="The label">' in body
    # another article's file, and an SVG: no source at all
    assert '<img alt="Other">' in body
    assert '<img alt="Map">' in body
