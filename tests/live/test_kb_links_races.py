"""Articles linked in replies at a live server, on SQLite and on PostgreSQL: agents sending
replies that link the same knowledge-base article at once through the Desk's composer each get
their reply stored, and the ticket has that article linked exactly once (one row, kind
`linked`), never a 500."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from typing import Any

from live import LIVE
from live.server import LiveDesk, Reply
from live.test_composer_races import desk_session, send
from live.test_me_races import signed_in

pytestmark = LIVE

LINKS = (
    "import json; from sportello.kb.models import ArticleTicketLink as L; "
    "print(json.dumps(list(L.objects.filter(ticket_id={ticket}).values_list('article_id', 'kind'))))"
)
ADDRESS = (
    "import json; from sportello.kb.links import public_page_url; "
    "print(json.dumps(public_page_url(article_id={article}, language='en', slug='{slug}')))"
)


def shell(live: LiveDesk, code: str) -> Any:
    return json.loads(live.server.manage("shell", "-c", code).strip().splitlines()[-1])


def _public_article(live: LiveDesk) -> tuple[int, str]:
    slug = f"links-{uuid.uuid4().hex[:8]}"
    category = live.post("/kb/categories", {"slug": slug, "title": {"en": "Links"}}, as_="admin").body
    section = live.post(
        f"/kb/categories/{category['id']}/sections", {"slug": "s", "title": {"en": "S"}}, as_="admin"
    ).body
    article = live.post("/kb/articles", {"section_id": section["id"], "source_language": "en"}, as_="admin")
    assert article.status == 201, article
    saved = live.put(
        f"/kb/articles/{article.body['id']}/translations/en",
        {"title": "Return a parcel", "state": "public", "body_html": "<p>Print the label.</p>"},
        as_="admin",
    )
    assert saved.status == 200, saved
    return article.body["id"], saved.body["slug"]


def test_replies_linking_one_article_at_once_keep_every_reply_and_one_link(live: LiveDesk) -> None:
    # given a public article, a ticket and two agents signed in to the Desk
    article, slug = _public_article(live)
    address = shell(live, ADDRESS.format(article=article, slug=slug))
    ticket = live.open_ticket(subject="Links race")
    clients = {who: desk_session(live, who) for who in ("agent", "agent2")}
    n = 6

    # when they send replies that link the article (inserted or pasted) at once
    def reply(i: int) -> Any:
        who = "agent" if i % 2 else "agent2"
        body = f"Link race {i}: [Return a parcel]({address})" if i % 3 else f"Link race {i}: {address}"
        return send(clients[who], ticket["id"], body, "", kind="public" if i % 2 else "internal")

    replies = live.race(n, reply)

    # then every reply is stored once, and the article is linked to the ticket exactly once
    assert [r.status for r in replies] == [200] * n, [r.body[:300] for r in replies if r.status != 200][:2]
    bodies = Counter(m["body"].split(":")[0] for m in live.messages(ticket["id"]))
    assert bodies == Counter(["The first message.", *(f"Link race {i}" for i in range(n))])
    assert shell(live, LINKS.format(ticket=ticket["id"])) == [[article, "linked"]]
    after = live.get(f"/tickets/{ticket['id']}").body
    assert (after["message_count"], after["version"]) == (n + 1, 1 + n)


DEPARTMENTS = (
    "import json; from sportello.kb.models import Article; "
    "print(json.dumps(sorted(Article.objects.get(pk={article}).departments.values_list('pk', flat=True))))"
)


def test_editors_saving_departments_opened_on_the_same_article_keep_exactly_one(live: LiveDesk) -> None:
    # given an article serving every department, opened by n editors
    article, _slug = _public_article(live)
    client = signed_in(live)
    choices = [live.departments["support"], live.departments["billing"]]
    n = 6

    def save(i: int) -> Reply:
        r = client.post(
            f"/kb/articles/{article}/en/settings/",
            data={"departments": [str(choices[i % 2])], "expected_departments": "", "expected_related": ""},
            headers={"X-CSRFToken": client.cookies["csrftoken"]},
        )
        return Reply(r.status_code, r.text)

    # when they all save a department at once
    saved = live.race(n, save)

    # then one is saved, every other is told so (409) with its choice kept, never a 500
    assert sorted(r.status for r in saved) == [302] + [409] * (n - 1), [r.body[:200] for r in saved]
    winner = next(i for i, r in enumerate(saved) if r.status == 302)
    assert shell(live, DEPARTMENTS.format(article=article)) == [choices[winner % 2]]
    for i, r in enumerate(saved):
        if r.status == 409:
            assert 'id="kb-settings-stale"' in r.body
            assert re.search(rf'name="departments" value="{choices[i % 2]}"[^>]*checked', r.body)
