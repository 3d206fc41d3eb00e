"""A small public knowledge base, made directly with the models (bodies already sanitised, as
`kb.services` stores them):

- category "orders" (en/es/it titles) with sections "shipping" and "returns";
- `track`: "Track your order" in Shipping — en public (the source), es public but outdated,
  it internal; related to `returns`;
- `returns`: "Return an item" in Returns — en public, with an image, a PDF and an SVG file;
- `internal`: en internal, with a file; `draft`: en draft; `archived`: en public, archived;
- `italian`: in Shipping, only in Italian (public);
- category "old" (inactive) with a public article `hidden`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4 fake"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@dataclass(eq=False)
class Kb:
    orders: Any
    shipping: Any
    returns_section: Any
    track: Any
    returns: Any
    internal: Any
    draft: Any
    archived: Any
    italian: Any
    hidden: Any
    image: Any
    pdf: Any
    svg: Any
    internal_file: Any

    def tr(self, article: Any, language: str = "en") -> Any:
        from sportello.kb.models import ArticleTranslation

        return ArticleTranslation.objects.get(article=article, language=language)


def make_article(
    section: Any,
    *,
    now: datetime,
    position: int = 0,
    source: str = "en",
    archived: bool = False,
    **by_lang: Any,
) -> Any:
    """An article with one translation per `by_lang` entry: `en=("Title", "public")` or a dict
    of the translation's fields."""
    from django.utils.text import slugify

    from sportello.kb import search
    from sportello.kb.models import Article, ArticleTranslation

    article = Article.objects.create(
        section=section,
        source_language=source,
        position=position,
        created_at=now,
        updated_at=now,
        is_archived=archived,
    )
    for language, spec in by_lang.items():
        fields = dict(spec) if isinstance(spec, dict) else {"title": spec[0], "state": spec[1]}
        title = fields.pop("title")
        text = fields.pop("text", f"All about {title.lower()}.")
        translation = ArticleTranslation.objects.create(
            article=article,
            language=language,
            title=title,
            slug=fields.pop("slug", slugify(title, allow_unicode=True)),
            body_html=fields.pop("body_html", f"<p>{text}</p>"),
            body_text=text,
            created_at=now,
            updated_at=fields.pop("updated_at", now),
            published_at=now,
            **fields,
        )
        search.index_translation(translation)  # as kb.services does after every save
    return article


def make_attachment(
    article: Any, *, key: str, filename: str, content_type: str, data: bytes, now: datetime
) -> Any:
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from sportello.kb.models import ArticleAttachment

    storages["attachments"].save(key, ContentFile(data))
    return ArticleAttachment.objects.create(
        article=article,
        storage_key=key,
        filename=filename,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=now,
    )


@pytest.fixture
def kb(db: Any, now: datetime, attachment_store: Any) -> Kb:
    from sportello.kb.models import KbCategory, KbSection

    orders = KbCategory.objects.create(
        slug="orders",
        title={"en": "Orders", "es": "Pedidos", "it": "Ordini"},
        description={"en": "Tracking, delivery and returns."},
        position=1,
        created_at=now,
        updated_at=now,
    )
    shipping = KbSection.objects.create(
        category=orders, slug="shipping", title={"en": "Shipping", "es": "Envíos"}, position=1,
        created_at=now, updated_at=now,
    )  # fmt: skip
    returns_section = KbSection.objects.create(
        category=orders, slug="returns", title={"en": "Returns", "es": "Devoluciones"}, position=2,
        created_at=now, updated_at=now,
    )  # fmt: skip
    old = KbCategory.objects.create(
        slug="old", title={"en": "Old"}, is_active=False, created_at=now, updated_at=now
    )
    old_section = KbSection.objects.create(
        category=old, slug="misc", title={"en": "Misc"}, created_at=now, updated_at=now
    )
    earlier = now - timedelta(days=3)
    track = make_article(
        shipping,
        now=now,
        position=1,
        en={"title": "Track your order", "state": "public", "view_count": 50, "updated_at": earlier,
            "summary": "Where your parcel is."},
        es={"title": "Seguir tu pedido", "state": "public", "outdated": True, "view_count": 5},
        it=("Traccia il tuo ordine", "internal"),
    )  # fmt: skip
    returns = make_article(
        returns_section, now=now, en={"title": "Return an item", "state": "public", "view_count": 10}
    )
    track.related.add(returns)
    internal = make_article(shipping, now=now, position=5, en=("Courier escalation codes", "internal"))
    draft = make_article(shipping, now=now, position=6, en=("New carrier coming", "draft"))
    archived = make_article(shipping, now=now, position=7, archived=True, en=("Old carrier", "public"))
    italian = make_article(
        shipping, now=now, position=8, source="it", it=("Spedizioni in Sardegna", "public")
    )
    hidden = make_article(old_section, now=now, en=("Hidden away", "public"))
    track.related.add(internal)
    image = make_attachment(
        returns, key="aa/bb/returnlabel", filename="label.png", content_type="image/png", data=PNG, now=now
    )
    pdf = make_attachment(
        returns, key="aa/bb/returnform", filename="return form.pdf", content_type="application/pdf", data=PDF,
        now=now,
    )  # fmt: skip
    svg = make_attachment(
        returns, key="aa/bb/returnsvg", filename="map.svg", content_type="image/svg+xml", data=SVG, now=now
    )
    internal_file = make_attachment(
        internal, key="cc/dd/codes", filename="codes.pdf", content_type="application/pdf", data=PDF, now=now
    )
    return Kb(
        orders=orders,
        shipping=shipping,
        returns_section=returns_section,
        track=track,
        returns=returns,
        internal=internal,
        draft=draft,
        archived=archived,
        italian=italian,
        hidden=hidden,
        image=image,
        pdf=pdf,
        svg=svg,
        internal_file=internal_file,
    )


@pytest.fixture(autouse=True)
def _clock(monkeypatch: Any, now: datetime) -> Any:
    """The pages read the clock at NOW."""
    from testing import hand_clock

    return hand_clock(monkeypatch, now)
