"""The merge dialog (find, preview, confirm) and the split action on the ticket page."""

from __future__ import annotations

from typing import Any

HX = {"HX-Request": "true"}


def test_header_offers_merge_to_agents_only(desk: Any, open_ticket: Any, browser: Any) -> None:
    ticket = open_ticket("Parcel lost")
    assert (
        'data-dialog-open="merge-dialog"'
        in browser(desk.agent).get(f"/tickets/{ticket.pk}/").content.decode()
    )
    assert (
        'data-dialog-open="merge-dialog"'
        not in browser(desk.light).get(f"/tickets/{ticket.pk}/").content.decode()
    )


def test_find_preview_and_merge(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.tickets.models import Message, StatusCategory

    target = open_ticket("Order 41 missing")
    source = open_ticket("Parcel lost")
    client = browser(desk.agent)
    # found by number, and by a word of the subject; the ticket itself is never offered
    by_number = client.get(f"/tickets/{source.pk}/merge/candidates/", {"q": f"#{target.number}"}, headers=HX)
    assert f"#{target.number}" in by_number.content.decode()
    by_word = client.get(
        f"/tickets/{source.pk}/merge/candidates/", {"q": "order"}, headers=HX
    ).content.decode()
    assert "Order 41 missing" in by_word
    assert f"#{source.number}<" not in by_word
    # the preview says what moves
    preview = client.get(
        f"/tickets/{source.pk}/merge/preview/", {"target": target.pk}, headers=HX
    ).content.decode()
    assert "1 message will move" in preview
    assert "0 attachments will move" in preview
    # confirmed: the page goes to the target, where the message now is
    r = client.post(f"/tickets/{source.pk}/merge/", {"target": target.pk}, headers=HX)
    assert r["HX-Redirect"] == f"/tickets/{target.pk}/"
    assert Message.objects.filter(ticket=target).count() == 2
    source.refresh_from_db()
    assert source.status_category == StatusCategory.CLOSED
    # the merged ticket says where it went, offers no merge, and its history says so in words
    page = client.get(f"/tickets/{source.pk}/").content.decode()
    assert f'Merged into <a href="/tickets/{target.pk}/">#{target.number}</a>' in page
    assert 'data-dialog-open="merge-dialog"' not in page
    assert f"merged this ticket into #{target.number}" in page
    assert (
        f"merged #{source.number} into this ticket" in client.get(f"/tickets/{target.pk}/").content.decode()
    )


def test_refusals_are_shown_in_the_dialog(desk: Any, open_ticket: Any, browser: Any) -> None:
    a, b = open_ticket("A"), open_ticket("B")
    elsewhere = open_ticket("Gadget", department=desk.electronics)
    client = browser(desk.agent)
    own = client.post(f"/tickets/{a.pk}/merge/", {"target": a.pk}, headers=HX)
    assert own.status_code == 422
    assert "cannot be merged into itself" in own.content.decode()
    hidden = client.post(f"/tickets/{a.pk}/merge/", {"target": elsewhere.pk}, headers=HX)
    assert hidden.status_code == 404
    assert "not found among those you may change" in hidden.content.decode()
    client.post(f"/tickets/{b.pk}/merge/", {"target": a.pk}, headers=HX)
    closed = client.get(f"/tickets/{a.pk}/merge/preview/", {"target": b.pk}, headers=HX)
    assert closed.status_code == 409
    assert "merged into another one" in closed.content.decode()


def test_merge_permissions(desk: Any, open_ticket: Any, browser: Any, client: Any) -> None:
    from sportello.tickets.models import Message

    a, b = open_ticket("A"), open_ticket("B")
    light = browser(desk.light).post(f"/tickets/{a.pk}/merge/", {"target": b.pk}, headers=HX)
    assert light.status_code == 403
    assert browser(desk.outsider).post(f"/tickets/{a.pk}/merge/", {"target": b.pk}).status_code == 404
    assert client.post(f"/tickets/{a.pk}/merge/", {"target": b.pk}).status_code == 302
    assert Message.objects.filter(ticket=a).count() == 1


def test_split_a_customer_message(desk: Any, open_ticket: Any, browser: Any) -> None:
    from sportello.tickets.models import Message, Ticket

    ticket = open_ticket("Two questions", description="And my invoice?")
    message = Message.objects.get(ticket=ticket)
    client = browser(desk.agent)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'action="/tickets/{ticket.pk}/messages/{message.pk}/split/"' in page
    empty = client.post(f"/tickets/{ticket.pk}/messages/{message.pk}/split/", {"subject": " "}, headers=HX)
    assert empty.status_code == 422
    assert "Give the new ticket a subject" in empty.content.decode()
    r = client.post(f"/tickets/{ticket.pk}/messages/{message.pk}/split/", {"subject": "Invoice"}, headers=HX)
    new = Ticket.objects.get(subject="Invoice")
    assert r["HX-Redirect"] == f"/tickets/{new.pk}/"
    assert Message.objects.get(ticket=new).body_text == "And my invoice?"
    assert (
        f"opened this ticket from a message of #{ticket.number}"
        in client.get(f"/tickets/{new.pk}/").content.decode()
    )
    light = browser(desk.light)
    assert "split/" not in light.get(f"/tickets/{ticket.pk}/").content.decode()
    refused = light.post(f"/tickets/{ticket.pk}/messages/{message.pk}/split/", {"subject": "x"}, headers=HX)
    assert refused.status_code == 403
    assert (
        browser(desk.outsider)
        .post(f"/tickets/{ticket.pk}/messages/{message.pk}/split/", {"subject": "x"})
        .status_code
        == 404
    )
