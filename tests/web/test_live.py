"""Live updates on the ticket page: the poll (ETag, 304, out-of-band swaps) and presence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

HX = {"HX-Request": "true"}


def _poll(client: Any, ticket: Any, version: int, etag: str | None = None) -> Any:
    headers = dict(HX)
    if etag:
        headers["If-None-Match"] = etag
    return client.get(f"/tickets/{ticket.pk}/live/", {"v": version}, headers=headers)


def test_unchanged_ticket_answers_304_cheaply(
    desk: Any, open_ticket: Any, browser: Any, django_assert_num_queries: Any
) -> None:
    ticket = open_ticket("Parcel lost")
    client = browser(desk.agent)
    first = _poll(client, ticket, ticket.version)
    assert first.status_code == 200
    assert first["ETag"]
    assert "live-conversation" not in first.content.decode()  # nothing changed since the page
    # session, user, ticket version, viewers
    with django_assert_num_queries(4):
        again = _poll(client, ticket, ticket.version, first["ETag"])
    assert again.status_code == 304


def test_a_new_customer_message_swaps_in_the_conversation(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.core.actors import Via
    from sportello.tickets import services

    ticket = open_ticket("Parcel lost")
    client = browser(desk.agent)
    seen = _poll(client, ticket, ticket.version)
    services.message_add(
        principal=desk.alice,
        ticket_id=ticket.pk,
        via=Via.EMAIL,
        body="It came today, thanks!",
        body_html="",
        public=True,
        attachment_ids=[],
        version=None,
        now=ticket.created_at + timedelta(minutes=5),
    )
    r = _poll(client, ticket, ticket.version, seen["ETag"])
    html = r.content.decode()
    assert r.status_code == 200
    assert r["ETag"] != seen["ETag"]
    assert '<div id="live-conversation" class="live-region" hx-swap-oob="true">' in html
    assert "It came today, thanks!" in html
    assert 'id="live-head"' in html
    assert 'id="live-history"' in html
    assert "reply-form" not in html  # the composer is never replaced
    ticket.refresh_from_db()
    assert f'data-version="{ticket.version}"' in html


def test_presence_shows_colleagues_viewing_and_replying(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Parcel lost")
    marta, bruno = browser(desk.admin), browser(desk.agent)
    assert marta.post(f"/tickets/{ticket.pk}/presence/", {"state": "viewing"}, headers=HX).status_code == 204
    page = bruno.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "<bdi>Ada Admin</bdi> is viewing" in page
    seen = _poll(bruno, ticket, ticket.version)
    marta.post(f"/tickets/{ticket.pk}/presence/", {"state": "replying"}, headers=HX)
    r = _poll(bruno, ticket, ticket.version, seen["ETag"])
    assert r.status_code == 200
    assert "<bdi>Ada Admin</bdi> is replying" in r.content.decode()
    # nobody sees themself
    assert "Ada Admin</bdi> is" not in marta.get(f"/tickets/{ticket.pk}/").content.decode()
    marta.post(f"/tickets/{ticket.pk}/presence/", {"state": "gone"}, headers=HX)
    assert "Ada Admin</bdi> is" not in bruno.get(f"/tickets/{ticket.pk}/").content.decode()


def test_stale_presence_expires(desk: Any, open_ticket: Any, browser: Any, frozen_clock: Any) -> None:
    from sportello.tickets.presence import presence_beat

    ticket = open_ticket("Parcel lost")
    presence_beat(ticket=ticket, agent=desk.admin, replying=False, now=frozen_clock - timedelta(minutes=2))
    assert "is viewing" not in browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()


def test_live_permissions(desk: Any, open_ticket: Any, browser: Any, client: Any) -> None:
    ticket = open_ticket("Parcel lost")
    assert _poll(browser(desk.outsider), ticket, 1).status_code == 404
    assert (
        browser(desk.outsider).post(f"/tickets/{ticket.pk}/presence/", {"state": "viewing"}).status_code
        == 404
    )
    assert _poll(browser(desk.light), ticket, 1).status_code == 200  # light agents read tickets
    assert (
        browser(desk.light).post(f"/tickets/{ticket.pk}/presence/", {"state": "viewing"}).status_code == 204
    )
    assert (
        browser(desk.agent).post(f"/tickets/{ticket.pk}/presence/", {"state": "dancing"}).status_code == 400
    )
    anonymous = client.get(f"/tickets/{ticket.pk}/live/", headers=HX)
    assert anonymous.status_code == 200
    assert "HX-Redirect" in anonymous
