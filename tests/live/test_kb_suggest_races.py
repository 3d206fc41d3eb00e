"""Answer suggestions at a live server, on SQLite and on PostgreSQL: a customer's session asks
for suggestions many times at once (each list recorded, none lost) and clicks "This solved my
problem" on one suggestion many times at once (recorded exactly once, every click answered 200,
never a 500)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

pytestmark = LIVE

SEED = (
    "from django.utils import timezone; from sportello.kb.models import *; "
    "from sportello.kb.search import index_translation; now = timezone.now(); "
    "c = KbCategory.objects.create(slug='{tag}', title={{'en': 'Help'}}, created_at=now, updated_at=now); "
    "s = KbSection.objects.create(category=c, slug='{tag}', title={{'en': 'Help'}}, "
    "created_at=now, updated_at=now); "
    "a = Article.objects.create(section=s, created_at=now, updated_at=now); "
    "t = ArticleTranslation.objects.create(article=a, language='en', "
    "title='Refund of a returned {tag} lamp', "
    "slug='refund', body_text='We refund a returned {tag} lamp within 5 days of receiving it.', "
    "state='public', created_at=now, updated_at=now); index_translation(t); print(a.pk)"
)
EVENTS = (
    "import json; from sportello.kb.models import SuggestionEvent as E; "
    "print(json.dumps([E.objects.filter(kind='shown', query__contains='{tag}').count(), "
    "E.objects.filter(kind='solved', article_id={article}).count()]))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def test_suggestions_asked_and_solved_clicked_at_once_are_recorded_exactly(live: LiveDesk) -> None:
    tag = f"t{uuid.uuid4().hex[:6]}"
    article = shell(live, SEED.format(tag=tag))
    client = httpx.Client(base_url=live.base_url, timeout=60, follow_redirects=False)
    question = f"I returned the {tag} lamp, when do I get my refund?"
    first = client.get("/suggest/portal/", params={"q": question, "lang": "en"})
    assert first.status_code == 200, first.text[:300]
    assert f"/a/{article}-refund/" in first.text
    n = 8
    asked: list[Reply] = live.race(
        n,
        lambda i: (lambda r: Reply(r.status_code, r.text))(
            client.get("/suggest/portal/", params={"q": question, "lang": "en"})
        ),
    )
    assert [r.status for r in asked] == [200] * n
    assert all(f"/a/{article}-refund/" in r.body for r in asked)
    shown_id = re.search(r'name="s" value="(\d+)"', asked[0].body)
    assert shown_id is not None
    token = client.cookies["csrftoken"]
    solved: list[Reply] = live.race(
        n,
        lambda i: (lambda r: Reply(r.status_code, r.text))(
            client.post(
                "/suggest/solved/",
                data={"s": shown_id.group(1), "article": str(article)},
                headers={"X-CSRFToken": token},
            )
        ),
    )
    assert [r.status for r in solved] == [200] * n, solved
    assert shell(live, EVENTS.format(tag=tag, article=article)) == [n + 1, 1]
