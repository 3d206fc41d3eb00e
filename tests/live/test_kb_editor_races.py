"""The knowledge-base editor pages at a live server, on SQLite and on PostgreSQL: editors opened
on the same version of a translation submit the form at once — exactly one is saved, every other
gets the stale page (409) with the text it typed kept, never a 500 — and many "Restore" clicks
from one versions page make one new version."""

from __future__ import annotations

import uuid

from live import LIVE
from live.server import LiveDesk, Reply

from .test_kb_races import TRANSLATION, _article, shell
from .test_me_races import post, signed_in

pytestmark = LIVE


def form(title: str, expected: int) -> dict[str, str]:
    return {
        "title": title,
        "summary": "",
        "keywords": "",
        "body_html": f"<p>{title}</p>",
        "state": "draft",
        "note": "",
        "expected_version": str(expected),
    }


def test_form_saves_of_one_version_keep_exactly_one_and_the_others_keep_their_text(live: LiveDesk) -> None:
    article = _article(live)
    client = signed_in(live)
    path = f"/kb/articles/{article}/en/"
    tag = uuid.uuid4().hex[:6]
    n = 6
    # New translation opened by n editors at once (expected version 0): one created.
    made: list[Reply] = live.race(n, lambda i: post(client, path, form(f"Made {tag} {i}", 0)))
    assert sorted(r.status for r in made) == [302] + [409] * (n - 1), [r.body[:200] for r in made]
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (version, len(versions)) == (1, 1)
    winner = next(i for i, r in enumerate(made) if r.status == 302)
    assert title == f"Made {tag} {winner}"
    for i, r in enumerate(made):
        if r.status == 409:
            assert f'value="Made {tag} {i}"' in r.body
            assert "Someone else saved this translation" in r.body
    # Saves opened on version 1: one is version 2, the others stale with their text kept.
    saved: list[Reply] = live.race(n, lambda i: post(client, path, form(f"Saved {tag} {i}", 1)))
    assert sorted(r.status for r in saved) == [302] + [409] * (n - 1), [r.body[:200] for r in saved]
    winner = next(i for i, r in enumerate(saved) if r.status == 302)
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (title, version) == (f"Saved {tag} {winner}", 2)
    assert [number for number, _ in versions] == [1, 2]
    assert all(f'value="Saved {tag} {i}"' in r.body for i, r in enumerate(saved) if r.status == 409)
    # Many "Restore version 1" clicks from a page showing version 2: one version 3.
    restored: list[Reply] = live.race(
        n, lambda i: post(client, f"{path}versions/", {"number": "1", "expected_version": "2"})
    )
    assert sorted(r.status for r in restored) == [302] + [409] * (n - 1), [r.body[:200] for r in restored]
    title, version, versions = shell(live, TRANSLATION.format(article=article, language="en"))
    assert (title, version) == (f"Made {tag} {made_winner(made)}", 3)
    assert [number for number, _ in versions] == [1, 2, 3]


def made_winner(made: list[Reply]) -> int:
    return next(i for i, r in enumerate(made) if r.status == 302)
