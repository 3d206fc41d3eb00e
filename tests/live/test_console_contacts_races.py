"""The Console's contact merge and CSV import at a live server, on SQLite and on PostgreSQL,
under requests fired at once: a pair of contacts merged from both sides at once is merged once
(no deadlock, nothing moved twice); an edit of the duplicate racing its merge either lands before
it or is refused; an import started by many clicks at once is queued once."""

from __future__ import annotations

import re

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import shell, signed_in

pytestmark = LIVE

READ_MERGE = (
    "import json; from sportello.contacts.models import Contact as C, MergedContact as M; "
    "from sportello.tickets.models import Ticket as T, TicketEvent as E; "
    "print(json.dumps([[c.pk for c in C.objects.filter(pk__in={ids}).order_by('pk')], "
    "[[m.source_id, m.target_id] for m in M.objects.filter(source_id__in={ids})], "
    "[[t.pk, t.requester_id, E.objects.filter(ticket=t, field='requester', cause='contact merged').count()] "
    "for t in T.objects.filter(pk__in={tickets}).order_by('pk')]]))"
)
READ_IMPORT = (
    "import json; from sportello.contacts.models import ContactImport as I; "
    "from django_tasks_db.models import DBTaskResult as R; "
    "print(json.dumps([[i.status, R.objects.filter(args_kwargs__kwargs__import_id=i.pk).count()] "
    "for i in I.objects.filter(pk={pk})]))"
)


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None) -> Reply:
    """The reply's status, with its body as `{"location", "text"}`."""
    r = client.post(path, data=data or {}, headers={"X-CSRFToken": client.cookies["csrftoken"]})
    return Reply(r.status_code, {"location": r.headers.get("location", ""), "text": r.text})


def merge(client: httpx.Client, target: int, source: int) -> Reply:
    return post(client, f"/console/people/contacts/{target}/merge/{source}/")


def test_a_pair_merged_from_both_sides_at_once_is_merged_once(live: LiveDesk) -> None:
    # given two duplicates, each with a ticket
    a = live.contact("merge-race-a@live.test")["id"]
    b = live.contact("merge-race-b@live.test")["id"]
    tickets = [
        live.open_ticket(requester_id=a, as_="admin")["id"],
        live.open_ticket(requester_id=b, as_="admin")["id"],
    ]
    client = signed_in(live)
    # when admins merge a into b and b into a, from eight requests at once
    n = 8
    targets = [b if i % 2 else a for i in range(n)]
    replies = live.race(n, lambda i: merge(client, targets[i], a if targets[i] == b else b))
    # then exactly one merge happened (its reply leads to the contact kept); the others found
    # the duplicate gone (back to the picker) or the contact they were on gone (404)
    done = [
        i for i, r in enumerate(replies) if r.body["location"] == f"/console/people/contacts/{targets[i]}/"
    ]
    assert len(done) == 1, replies
    assert all(r.status in (302, 404) for r in replies), replies
    [kept, merged, rows] = shell(live, READ_MERGE.format(ids=[a, b], tickets=tickets))
    assert len(kept) == 1
    survivor = kept[0]
    gone = b if survivor == a else a
    assert merged == [[gone, survivor]]
    # each ticket is the survivor's; the one that moved records the merge once
    assert rows == [[t, survivor, 0 if t == tickets[[a, b].index(survivor)] else 1] for t in tickets]


def test_an_edit_racing_the_merge_lands_before_it_or_is_refused(live: LiveDesk) -> None:
    target = live.contact("edit-race-target@live.test")["id"]
    source = live.contact("edit-race-source@live.test")["id"]
    client = signed_in(live)
    edit_form = {"name": "Edited", "email": "edit-race-source@live.test", "phone": "", "organization": ""}

    def act(i: int) -> Reply:
        if i == 0:
            return merge(client, target, source)
        return post(client, f"/console/people/contacts/{source}/", edit_form)

    replies = live.race(4, act)
    assert replies[0].status == 302, replies[0]
    assert replies[0].body["location"] == f"/console/people/contacts/{target}/"
    for r in replies[1:]:
        assert r.status in (302, 422), r
        if r.status == 422:
            assert "This contact was merged into another meanwhile: nothing was saved." in r.body["text"]
    [kept, merged, _rows] = shell(live, READ_MERGE.format(ids=[target, source], tickets=[]))
    assert (kept, merged) == ([target], [[source, target]])


def test_an_import_started_by_many_clicks_at_once_is_queued_once(live: LiveDesk) -> None:
    client = signed_in(live)
    page = client.get("/console/people/contacts/import/")
    assert page.status_code == 200
    files = {"file": ("race.csv", b"email,name\nimport-race@live.test,Import Race\n", "text/csv")}
    r = client.post(
        "/console/people/contacts/import/", files=files, headers={"X-CSRFToken": client.cookies["csrftoken"]}
    )
    assert r.status_code == 302, r.text[:500]
    found = re.search(r"/import/(\d+)/$", r.headers["location"])
    assert found is not None
    pk = int(found.group(1))
    n = 8
    replies = live.race(n, lambda i: post(client, f"/console/people/contacts/import/{pk}/start/"))
    assert [r.status for r in replies] == [302] * n, replies
    assert shell(live, READ_IMPORT.format(pk=pk)) == [["queued", 1]]
