"""The knowledge base at a live server, on SQLite and on PostgreSQL: editors opened on the same
version of a translation save at once — exactly one wins, the others are told so (409), never a
500 — and creations of one new translation make one; many "Save as article" clicks on one solved
ticket make one draft."""

from __future__ import annotations

import json
import uuid
from typing import Any

from live import LIVE
from live.server import LiveDesk

pytestmark = LIVE

TRANSLATION = (
    "import json; from sportello.kb.models import ArticleTranslation as T, ArticleVersion as V; "
    "t = T.objects.filter(article_id={article}, language='{language}').first(); "
    "print(json.dumps(None if t is None else [t.title, t.version, "
    "list(V.objects.filter(translation=t).order_by('number').values_list('number', 'title'))]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def _article(live: LiveDesk) -> int:
    slug = f"race-{uuid.uuid4().hex[:8]}"
    reply = live.post("/kb/categories", {"slug": slug, "title": {"en": "Race"}}, as_="admin")
    assert reply.status == 201, reply
    category = reply.body
    section = live.post(
        f"/kb/categories/{category['id']}/sections", {"slug": "s", "title": {"en": "S"}}, as_="admin"
    ).body
    return int(
        live.post("/kb/articles", {"section_id": section["id"], "source_language": "en"}, as_="admin").body[
            "id"
        ]
    )


def test_concurrent_saves_of_one_version_keep_exactly_one(live: LiveDesk) -> None:
    article = _article(live)
    path = f"/kb/articles/{article}/translations/en"
    n = 6
    # Creations of the one translation: one made, the others stale.
    made = live.race(
        n,
        lambda i: live.put(
            path, {"title": f"Made {i}", "state": "draft", "expected_version": 0}, as_="agent"
        ),
    )
    assert sorted(r.status for r in made) == [200] + [409] * (n - 1), [r.body for r in made]
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (version, len(versions)) == (1, 1)
    assert title.startswith("Made ")
    # Saves opened on version 1: one new version, the others stale, nothing else written.
    saved = live.race(
        n,
        lambda i: live.put(
            path,
            {"title": f"Saved {i}", "state": "internal", "expected_version": 1},
            as_="agent" if i % 2 else "admin",
        ),
    )
    statuses = sorted(r.status for r in saved)
    assert statuses == [200] + [409] * (n - 1), [r.body for r in saved]
    winner = next(r.body for r in saved if r.status == 200)
    assert all(r.body["error"]["code"] == "stale_translation" for r in saved if r.status == 409)
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (title, version) == (winner["title"], 2)
    assert [v[0] for v in versions] == [1, 2]


def test_concurrent_restores_of_one_version_keep_exactly_one(live: LiveDesk) -> None:
    article = _article(live)
    path = f"/kb/articles/{article}/translations/en"
    assert live.put(path, {"title": "One", "state": "draft"}, as_="admin").status == 200
    assert live.put(path, {"title": "Two", "state": "draft"}, as_="admin").status == 200
    n = 5
    restored = live.race(
        n, lambda i: live.post(f"{path}/restore", {"number": 1, "expected_version": 2}, as_="agent")
    )
    assert sorted(r.status for r in restored) == [200] + [409] * (n - 1)
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (title, version, [v[1] for v in versions]) == ("One", 3, ["One", "Two", "One"])
