"""The history of the knowledge base's structure (`core.snapshots`): categories, sections and
articles (where an article sits, the departments it serves, its related articles, archived),
each recorded by id and restored through `kb.services`. A translation's texts have their own
history, its `ArticleVersion` rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sportello.accounts.models import Department
from sportello.core.errors import ValidationFailed
from sportello.core.snapshots import Definition, SnapshotKind, register_snapshot_kind

from . import services
from .models import Article, KbCategory, KbSection
from .services import ARTICLES, CATEGORIES, SECTIONS


def _id(key: str) -> int | None:
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 18 else None


def _name(title: dict[str, str], fallback: str) -> str:
    return title.get("en") or next(iter(title.values()), "") or fallback


def category_definition(c: KbCategory) -> Definition:
    return {
        "slug": c.slug,
        "title": dict(c.title),
        "description": dict(c.description),
        "position": c.position,
        "active": c.is_active,
    }


def section_definition(s: KbSection) -> Definition:
    return {
        "category": s.category.slug,
        "slug": s.slug,
        "title": dict(s.title),
        "description": dict(s.description),
        "position": s.position,
        "active": s.is_active,
    }


def article_definition(a: Article) -> Definition:
    return {
        "key": a.key,
        "section": a.section_id,
        "source_language": a.source_language,
        "departments": sorted(a.departments.values_list("slug", flat=True)),
        "related": sorted(a.related.values_list("pk", flat=True)),
        "position": a.position,
        "archived": a.is_archived,
    }


def _apply_category(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    category = KbCategory.objects.get(pk=int(key))
    services.category_update(
        category=category,
        actor=actor,
        now=now,
        title=definition["title"],
        description=definition.get("description", {}),
        position=definition.get("position", 0),
        is_active=definition.get("active", True),
    )


def _apply_section(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    section = KbSection.objects.get(pk=int(key))
    services.section_update(
        section=section,
        actor=actor,
        now=now,
        title=definition["title"],
        description=definition.get("description", {}),
        position=definition.get("position", 0),
        is_active=definition.get("active", True),
    )


def _apply_article(key: str, definition: Definition, actor: Any, now: datetime) -> None:
    article = Article.objects.get(pk=int(key))
    section = KbSection.objects.filter(pk=int(definition.get("section") or 0)).first()
    if section is None:
        raise ValidationFailed("its section no longer exists", field="section")
    departments = list(Department.objects.filter(slug__in=definition.get("departments", [])))
    services.article_update(
        article=article,
        actor=actor,
        now=now,
        section=section,
        departments=departments,
        position=definition.get("position", 0),
        is_archived=definition.get("archived", False),
    )
    related = list(Article.objects.filter(pk__in=definition.get("related", [])))
    services.article_relate(article=article, related=related, actor=actor, now=now)


def _register(
    model: Any,
    *,
    name: str,
    label: str,
    define: Callable[[Any], Definition],
    title: Callable[[Any], str],
    apply: Callable[[str, Definition, Any, datetime], None],
) -> None:
    """Register one kind of the structure's history: its rows are keyed by id, read, locked and
    listed alike; `define` and `title` say what a row's snapshot and name are."""

    def read(key: str) -> tuple[str, Definition] | None:
        pk = _id(key)
        found = model.objects.filter(pk=pk).first() if pk is not None else None
        return None if found is None else (title(found), define(found))

    def lock(key: str) -> Any:
        pk = _id(key)
        return model.objects.select_for_update().filter(pk=pk).first() if pk is not None else None

    def existing() -> list[str]:
        return [str(pk) for pk in model.objects.order_by("pk").values_list("pk", flat=True)]

    register_snapshot_kind(
        SnapshotKind(name=name, label=label, lock=lock, read=read, existing=existing, apply=apply)
    )


_register(
    KbCategory,
    name=CATEGORIES,
    label="knowledge-base category",
    define=category_definition,
    title=lambda c: _name(c.title, c.slug),
    apply=_apply_category,
)
_register(
    KbSection,
    name=SECTIONS,
    label="knowledge-base section",
    define=section_definition,
    title=lambda s: _name(s.title, s.slug),
    apply=_apply_section,
)
_register(
    Article,
    name=ARTICLES,
    label="knowledge-base article",
    define=article_definition,
    title=lambda a: a.key or f"article {a.pk}",
    apply=_apply_article,
)
