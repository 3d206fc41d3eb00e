"""A customer on a phone reads the public knowledge base: home → topic → article → "No" and a
comment. Zero axe-core violations on every page, nothing overflowing sideways at 390 px."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from .axe import assert_accessible
from .pages import no_sideways_overflow, settled, shot

BODY = (
    "<p>Once your order ships we e-mail you a tracking link. It can take up to a day before the "
    "courier shows the first scan.</p><h2>Where is my tracking number?</h2><ol><li>Open the "
    'shipping e-mail.</li><li>Follow <a href="https://example.com/track">Track parcel</a>.</li></ol>'
    "<p>Parcels to islands can take two more days.</p>"
)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _knowledge_base(now: Any) -> Any:
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from sportello.kb import search
    from sportello.kb.models import Article, ArticleAttachment, ArticleTranslation, KbCategory, KbSection

    def article(section: Any, title: str, slug: str, views: int, body: str = "", **extra: Any) -> Any:
        a = Article.objects.create(section=section, created_at=now, updated_at=now)
        t = ArticleTranslation.objects.create(
            article=a, language="en", title=title, slug=slug, body_html=body or f"<p>{title}.</p>",
            body_text=title, state="public", view_count=views, created_at=now, updated_at=now, **extra,
        )  # fmt: skip
        search.index_translation(t)  # as kb.services does after every save
        return a

    orders = KbCategory.objects.create(
        slug="orders", title={"en": "Orders and delivery"},
        description={"en": "Tracking, delivery times and returns."},
        position=1, created_at=now, updated_at=now,
    )  # fmt: skip
    account = KbCategory.objects.create(
        slug="account", title={"en": "Your account"}, description={"en": "Passwords, addresses, e-mails."},
        position=2, created_at=now, updated_at=now,
    )  # fmt: skip
    shipping = KbSection.objects.create(
        category=orders, slug="shipping", title={"en": "Shipping"}, position=1, created_at=now, updated_at=now
    )
    returns = KbSection.objects.create(
        category=orders, slug="returns", title={"en": "Returns and refunds"}, position=2, created_at=now,
        updated_at=now,
    )  # fmt: skip
    login = KbSection.objects.create(
        category=account, slug="signing-in", title={"en": "Signing in"}, created_at=now, updated_at=now
    )
    track = article(
        shipping, "Track your order", "track-your-order", 120, BODY, summary="Where your parcel is."
    )
    ret = article(returns, "Return an item", "return-an-item", 40)
    article(shipping, "Delivery times by country", "delivery-times-by-country", 30)
    article(login, "Reset your password", "reset-your-password", 80)
    track.related.add(ret)
    data = png(320, 120, (31, 95, 174))
    storages["attachments"].save("kb/aa/label", ContentFile(data))
    ArticleAttachment.objects.create(
        article=track, storage_key="kb/aa/label", filename="tracking-email.png", content_type="image/png",
        size=len(data), sha256=hashlib.sha256(data).hexdigest(), created_at=now,
    )  # fmt: skip
    storages["attachments"].save("kb/aa/form", ContentFile(b"%PDF-1.4 form"))
    ArticleAttachment.objects.create(
        article=track, storage_key="kb/aa/form", filename="claim-form.pdf", content_type="application/pdf",
        size=13, sha256="0" * 64, created_at=now,
    )  # fmt: skip
    return track


def _check(page: Any, name: str) -> None:
    settled(page)
    no_sideways_overflow(page)
    assert_accessible(page, context=name)
    shot(page, f"kb-public-{name}")


def test_a_customer_on_a_phone_finds_an_article_and_says_it_did_not_help(
    phone_page: Any, url: Any, now: Any, attachment_store: Any
) -> None:
    from sportello.kb.models import ArticleTranslation, ArticleVote

    track = _knowledge_base(now)
    page = phone_page
    page.set_default_timeout(20_000)  # the first page of a fresh server compiles its templates
    # the home: a search box, the topics, the popular articles
    page.goto(url("/portal/kb/"))
    page.get_by_role("heading", level=1, name="How can we help?").wait_for()
    assert page.url.endswith("/portal/kb/en/")
    assert page.get_by_role("searchbox", name="Search the help centre").is_visible()
    _check(page, "home")
    # a topic
    page.get_by_role("link", name="Orders and delivery").click()
    page.get_by_role("heading", level=1, name="Orders and delivery").wait_for()
    _check(page, "category")
    # the article
    page.get_by_role("link", name="Track your order").click()
    page.get_by_role("heading", level=1, name="Track your order").wait_for()
    assert page.get_by_role("img", name="tracking-email.png").is_visible()
    assert page.get_by_role("link", name="Return an item").is_visible()
    _check(page, "article")
    # "No", then a comment
    page.get_by_role("button", name="No").click()
    comment = page.get_by_label("How can we improve this article? (optional)")
    comment.wait_for()
    settled(page)
    assert page.evaluate("document.activeElement.id") == "kb-comment"
    assert page.get_by_role("button", name="No").get_attribute("aria-pressed") == "true"
    comment.fill("The tracking link in the e-mail does not open on my phone.")
    _check(page, "article-feedback")
    page.get_by_role("button", name="Send comment").click()
    page.get_by_text("Thank you: your comment has been sent.").wait_for()
    settled(page)
    assert page.evaluate("document.activeElement.id") == "kb-thanks"
    _check(page, "article-thanks")
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.comment) == (
        False,
        "The tracking link in the e-mail does not open on my phone.",
    )
    t = ArticleTranslation.objects.get(article=track)
    assert (t.helpful_count, t.unhelpful_count, t.view_count) == (0, 1, 121)


def test_search_on_a_phone_finds_and_helps_when_nothing_matches(
    phone_page: Any, url: Any, now: Any, attachment_store: Any
) -> None:
    _knowledge_base(now)
    page = phone_page
    page.set_default_timeout(20_000)
    page.goto(url("/portal/kb/en/"))
    page.get_by_role("searchbox", name="Search the help centre").fill("password")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("link", name="Reset your password").wait_for()
    _check(page, "search")
    page.get_by_role("searchbox", name="Search the help centre").fill("zebra' OR 1=1 --")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("No articles match").wait_for()
    assert page.get_by_role("link", name="Submit a request and we will answer you").is_visible()
    _check(page, "search-empty")
