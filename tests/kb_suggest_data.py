"""A small knowledge base for the search and suggestion tests (en, es, it; public, internal,
draft and archived; one article tied to a department), indexed as the services index it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from testing import NOW

ARTICLES: list[dict[str, Any]] = [
    {
        "key": "refund",
        "translations": {
            "en": ("How to get a refund", "Ask for a refund within 30 days of delivery from your order page. "
                   "The money goes back to the card you paid with in 5 to 10 days.", "refund, money back"),
            "es": ("Cómo solicitar una devolución", "Solicita la devolución del dinero en los 30 días siguientes a la "  # noqa: E501
                   "entrega desde la página del pedido. El reembolso llega a tu tarjeta en 5 a 10 días.", "reembolso"),  # noqa: E501
            "it": ("Come ottenere un rimborso", "Chiedi il rimborso entro 30 giorni dalla consegna dalla pagina "  # noqa: E501
                   "dell'ordine. I soldi tornano sulla carta usata per pagare in 5-10 giorni.", "rimborsi"),
        },
    },
    {
        "key": "password",
        "translations": {
            "en": ("Reset your password", "If you forgot your password, click 'Forgot password' on the sign-in "  # noqa: E501
                   "page and follow the link we e-mail you to choose a new one.", "login, sign in"),
        },
    },
    {
        "key": "late-order",
        "translations": {
            "it": ("Perché il mio ordine è in ritardo?", "Un ordine può arrivare in ritardo per uno sciopero del "  # noqa: E501
                   "corriere o per un indirizzo incompleto. Controlla lo stato della spedizione.", "ritardo"),
            "en": ("Why is my order late?", "An order can arrive late because of a courier strike or an "
                   "incomplete address. Check the shipment status.", "delay"),
        },
    },
    {
        "key": "battery",
        "departments": ["electronics"],
        "translations": {
            "en": ("Your laptop battery drains quickly", "Lower the screen brightness, close apps running in the "  # noqa: E501
                   "background and update the firmware to make the battery last longer.", "battery, charge"),
        },
    },
    {
        "key": "fraud",
        "state": "internal",
        "translations": {
            "en": ("Handling a suspected fraudulent order", "Put the order on hold, do not ship, and escalate "  # noqa: E501
                   "the case to the payments team with the order number.", "fraud, chargeback"),
        },
    },
    {
        "key": "prices",
        "state": "draft",
        "translations": {
            "en": ("Upcoming price changes", "Prices of refund insurance change next year.", "prices"),
        },
    },
    {
        "key": "old-refund",
        "archived": True,
        "translations": {
            "en": ("Old refund policy", "Refunds used to take 60 days.", "refund"),
        },
    },
]  # fmt: skip


@dataclass
class Kb:
    articles: dict[str, Any] = field(default_factory=dict)  # key → Article
    translations: dict[tuple[str, str], Any] = field(default_factory=dict)  # (key, language) → translation


def build_kb(*, departments: dict[str, Any] | None = None, now: datetime = NOW) -> Kb:
    from sportello.kb.models import Article, ArticleTranslation, KbCategory, KbSection
    from sportello.kb.search import index_translation
    from sportello.kb.suggest import forget_cache

    forget_cache()
    category = KbCategory.objects.create(slug="help", title={"en": "Help"}, created_at=now, updated_at=now)
    section = KbSection.objects.create(
        category=category, slug="orders", title={"en": "Orders"}, created_at=now, updated_at=now
    )
    kb = Kb()
    for spec in ARTICLES:
        article = Article.objects.create(
            key=spec["key"],
            section=section,
            created_at=now,
            updated_at=now,
            is_archived=spec.get("archived", False),
        )
        for name in spec.get("departments", []):
            article.departments.add((departments or {})[name])
        kb.articles[spec["key"]] = article
        for language, (title, body, keywords) in spec["translations"].items():
            translation = ArticleTranslation.objects.create(
                article=article,
                language=language,
                title=title,
                slug=spec["key"],
                body_text=body,
                body_html=f"<p>{body}</p>",
                keywords=keywords,
                state=spec.get("state", "public"),
                created_at=now,
                updated_at=now,
            )
            index_translation(translation)
            kb.translations[(spec["key"], language)] = translation
    return kb
