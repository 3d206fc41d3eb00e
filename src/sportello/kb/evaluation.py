"""The evaluation of answer suggestions on the demo knowledge base.

`load_demo_kb(now=...)` loads src/sportello/demo/kb/*.yaml through the knowledge-base services
(the demo loader `sportello.demo.kb.load_knowledge_base` when it exists), first creating the
departments the articles name when the desk lacks them; `evaluate(requests)`
runs each request of tests/kb/eval/requests.yaml through `suggest` — hybrid, lexical only and
embedding only — and reports recall@1, recall@3 and MRR per group (en, es, it: requests with a
target in their own language; cross: targets only in another language). Used by
tests/kb/test_eval.py (the bar) and bench/kb_eval.py (the table in docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .suggest import Mode, forget_cache, suggest

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo" / "kb"
GROUPS = ("en", "es", "it", "cross")
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "embedding")
DEPTH = 10  # how deep the ranks are read for MRR


@dataclass(frozen=True, slots=True)
class Request:
    text: str
    language: str
    targets: tuple[str, ...]
    department: str | None
    kind: str
    audience: str

    @property
    def group(self) -> str:
        return "cross" if self.kind == "cross" else self.language


@dataclass(frozen=True, slots=True)
class Scores:
    count: int
    recall_at_1: float
    recall_at_3: float
    mrr: float


def read_requests(path: Path) -> list[Request]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Request(
            text=row["text"],
            language=row["language"],
            targets=tuple(row["targets"]),
            department=row.get("department"),
            kind=row.get("kind", "same"),
            audience=row.get("audience", "customer"),
        )
        for row in rows
    ]


def load_demo_kb(*, now: datetime) -> dict[str, int]:
    """Load the demo knowledge base; returns article key → id."""
    from sportello.accounts.models import Role, User
    from sportello.accounts.services import agent_create

    actor = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    if actor is None:
        actor = agent_create(email="kb-eval@desk.test", name="KB Evaluation", role=Role.ADMIN, password=None)
    _demo_departments(actor=actor)
    try:
        from sportello.demo.kb import load_knowledge_base  # type: ignore[attr-defined]
    except ImportError:
        articles = _load_yaml(actor=actor, now=now)
    else:
        articles = {key: article.pk for key, article in load_knowledge_base(actor=actor, now=now).items()}
    forget_cache()
    return articles


def _demo_departments(*, actor: Any) -> None:
    """The departments the demo articles name (the demo desk has them; an empty one not)."""
    from sportello.accounts.models import Department
    from sportello.accounts.services import department_create

    names = {
        name
        for path in DEMO_DIR.glob("*.yaml")
        for article in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("articles", [])
        for name in article.get("departments", [])
    }
    for name in sorted(names):
        if not Department.objects.filter(name__iexact=name).exists():
            department_create(name=name, actor=actor)


def _load_yaml(*, actor: Any, now: datetime) -> dict[str, int]:
    from sportello.accounts.models import Department
    from sportello.accounts.services import department_create
    from sportello.kb.models import Article, KbCategory, KbSection
    from sportello.kb.services import (
        article_create,
        category_create,
        section_create,
        translation_save,
    )

    departments: dict[str, Department] = {d.name: d for d in Department.objects.all()}
    articles: dict[str, int] = {}
    for path in sorted(DEMO_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = data["category"]
        category = KbCategory.objects.filter(slug=spec["slug"]).first() or category_create(
            slug=spec["slug"], title=spec["title"], description=spec.get("description") or {},
            position=spec.get("position", 0), actor=actor, now=now,
        )  # fmt: skip
        sections: dict[str, KbSection] = {}
        for section in data.get("sections", []):
            sections[section["slug"]] = KbSection.objects.filter(
                category=category, slug=section["slug"]
            ).first() or section_create(
                category=category, slug=section["slug"], title=section["title"],
                position=section.get("position", 0), actor=actor, now=now,
            )  # fmt: skip
        for position, item in enumerate(data.get("articles", [])):
            existing = Article.objects.filter(key=item["key"]).first()
            if existing is not None:
                articles[item["key"]] = existing.pk
                continue
            for name in item.get("departments", []):
                if name not in departments:
                    departments[name] = department_create(name=name, actor=actor)
            article = article_create(
                section=sections[item["section"]], source_language=item.get("source_language", "en"),
                actor=actor, now=now, departments=[departments[n] for n in item.get("departments", [])],
                key=item["key"], position=position,
            )  # fmt: skip
            for language, tr in item["translations"].items():
                translation_save(
                    article=article, language=language, title=tr["title"], body_html=tr.get("body", ""),
                    state=tr.get("state", "public"), actor=actor, now=now, summary=tr.get("summary", ""),
                    keywords=tr.get("keywords", ""),
                )  # fmt: skip
            articles[item["key"]] = article.pk
    return articles


def ranks(
    requests: Iterable[Request], *, articles: dict[str, int], mode: Mode
) -> list[tuple[Request, int | None]]:
    """Each request with the 1-based rank of its first target among the suggestions (None:
    not suggested at all)."""
    from sportello.accounts.models import Department

    departments = dict(Department.objects.values_list("name", "id"))
    out: list[tuple[Request, int | None]] = []
    for request in requests:
        targets = {articles[key] for key in request.targets if key in articles}
        found = suggest(
            text=request.text,
            language=request.language,
            audience="agent" if request.audience == "agent" else "customer",
            department_id=departments.get(request.department) if request.department else None,
            limit=DEPTH,
            mode=mode,
        )
        rank = next((i for i, s in enumerate(found, start=1) if s.article_id in targets), None)
        out.append((request, rank))
    return out


def scores(ranked: list[tuple[Request, int | None]]) -> dict[str, Scores]:
    by_group: dict[str, list[int | None]] = {group: [] for group in GROUPS}
    for request, rank in ranked:
        by_group.setdefault(request.group, []).append(rank)
    out: dict[str, Scores] = {}
    for group, values in by_group.items():
        n = len(values)
        if not n:
            continue
        out[group] = Scores(
            count=n,
            recall_at_1=sum(1 for r in values if r is not None and r <= 1) / n,
            recall_at_3=sum(1 for r in values if r is not None and r <= 3) / n,
            mrr=sum(1.0 / r for r in values if r is not None) / n,
        )
    return out
