"""The public knowledge base's "Was this helpful?" at a live server, on SQLite and on
PostgreSQL: many readers (each their own session) voting on one article at once leave exactly
their votes and counters equal to them; one reader voting many times at once leaves one vote,
and the counters agree with it; each reader's view is counted once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import FRESH_CONNECTIONS

pytestmark = LIVE

ARTICLE = (
    "import json; from django.utils import timezone as tz; "
    "from sportello.kb.models import KbCategory as C, KbSection as S, Article as A, ArticleTranslation as T; "
    "now = tz.now(); "
    "c = C.objects.create(slug='{key}', title={{'en': 'Race'}}, created_at=now, updated_at=now); "
    "s = S.objects.create(category=c, slug='votes', title={{'en': 'Votes'}}, "
    "created_at=now, updated_at=now); "
    "a = A.objects.create(section=s, created_at=now, updated_at=now); "
    "T.objects.create(article=a, language='en', title='Race', slug='race', body_html='<p>Race</p>', "
    "body_text='Race', state='public', created_at=now, updated_at=now); "
    "print(json.dumps(a.pk))"
)
COUNTS = (
    "import json; from sportello.kb.models import ArticleTranslation as T, ArticleVote as V; "
    "t = T.objects.get(article_id={article}, language='en'); "
    "votes = list(V.objects.filter(translation=t).values_list('voter', 'helpful')); "
    "print(json.dumps([t.helpful_count, t.unhelpful_count, t.view_count, sorted(h for _, h in votes), "
    "len({{v for v, _ in votes}})]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def reader(live: LiveDesk, article: int) -> httpx.Client:
    """A reader's browser: it has read the article (a session and a CSRF cookie)."""
    client = httpx.Client(
        base_url=live.base_url, limits=FRESH_CONNECTIONS, timeout=60, follow_redirects=False
    )
    r = client.get(f"/portal/kb/en/a/{article}-race/")
    assert r.status_code == 200, r.text[:500]
    return client


def vote(client: httpx.Client, article: int, helpful: bool, comment: str = "") -> Reply:
    r = client.post(
        f"/portal/kb/en/a/{article}/vote/",
        data={"helpful": "yes" if helpful else "no", "comment": comment},
        headers={"X-CSRFToken": client.cookies["csrftoken"], "HX-Request": "true"},
    )
    return Reply(r.status_code, r.text)


def test_many_readers_voting_at_once_are_all_counted_exactly(live: LiveDesk) -> None:
    # given an article read by twelve readers
    article = shell(live, ARTICLE.format(key=f"race-{uuid.uuid4().hex[:8]}"))
    n = 12
    readers = [reader(live, article) for _ in range(n)]
    # when they all vote at once, two in three "yes"
    replies = live.race(n, lambda i: vote(readers[i], article, helpful=i % 3 != 0))
    # then every vote was taken, and the counters equal the votes stored
    assert [r.status for r in replies] == [200] * n
    helpful, unhelpful, views, stored, voters = shell(live, COUNTS.format(article=article))
    assert (helpful, unhelpful) == (8, 4)
    assert stored == [False] * 4 + [True] * 8
    assert voters == n
    # and each reader's view was counted once
    assert views == n
    # when they all change their vote at once
    replies = live.race(n, lambda i: vote(readers[i], article, helpful=i % 3 == 0, comment=f"Reader {i}"))
    assert [r.status for r in replies] == [200] * n
    helpful, unhelpful, views, stored, voters = shell(live, COUNTS.format(article=article))
    assert (helpful, unhelpful, voters) == (4, 8, n)
    for client in readers:
        client.close()


def test_one_reader_voting_many_times_at_once_leaves_one_vote(live: LiveDesk) -> None:
    # given an article read by one reader
    article = shell(live, ARTICLE.format(key=f"race-{uuid.uuid4().hex[:8]}"))
    client = reader(live, article)
    # when that reader sends ten votes at once, yes and no mixed
    n = 10
    replies = live.race(n, lambda i: vote(client, article, helpful=i % 2 == 0))
    # then all were answered, one vote is stored, and the counters agree with it
    assert [r.status for r in replies] == [200] * n
    helpful, unhelpful, views, stored, voters = shell(live, COUNTS.format(article=article))
    assert voters == 1
    assert len(stored) == 1
    assert (helpful, unhelpful) == ((1, 0) if stored[0] else (0, 1))
    assert views == 1
    client.close()
