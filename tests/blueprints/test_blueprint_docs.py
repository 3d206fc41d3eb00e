"""`docs/blueprints.md` is a fixture: its document imports, and the process behaves as told."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sportello.blueprints.services import TransitionInputsInvalid, blueprints_import, load_blueprints_text
from sportello.outbox.models import OutboxMessage
from sportello.tickets.models import Ticket
from workflow_setup import run_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "blueprints.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def documented(desk: Any) -> dict[str, Any]:
    """The page's document, with this desk's department id."""
    data = load_blueprints_text(BLOCKS[0])
    for item in data["blueprints"]:
        item["department"] = desk.books.pk
    return data


def test_the_page_has_one_document_with_a_blueprint() -> None:
    assert len(BLOCKS) == 1
    assert [b["key"] for b in load_blueprints_text(BLOCKS[0])["blueprints"]] == ["returns"]


def test_the_documented_returns_process_imports_and_behaves_as_described(
    desk: Any, fields: None, open_ticket: Any, transition: Any, now: Any
) -> None:
    # given the documented document, imported
    result = blueprints_import(data=documented(desk), actor=desk.admin, now=now)
    assert [(i.key, i.outcome, i.version) for i in result.items] == [("returns", "created", 1)]
    # when a return is opened, it is received, open
    ticket = open_ticket()
    assert (Ticket.objects.get(pk=ticket.pk).status.key, run_of(ticket).state) == ("open", "received")
    # when the label is sent without a proper order id, the documented message tells why
    with pytest.raises(TransitionInputsInvalid) as refused:
        transition(ticket, "label-sent", custom_fields={"order_id": "123"}, note="Sent")
    assert refused.value.message == "custom_fields.order_id: An order id looks like AB123456"
    # when it is sent properly, the ticket awaits the item and the customer gets the label
    out = transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Sent").outcome
    assert (out.ticket.status.key, run_of(ticket).state, out.tags) == (
        "pending",
        "awaiting-item",
        ["label_sent"],
    )
    mail = OutboxMessage.objects.get(change_id=out.change_id)
    assert mail.payload["subject"] == "Your return label for AB123456"
    # and the item arrives, an admin refunds, the process completes
    transition(ticket, "item-arrived")
    transition(ticket, "refund", by=desk.admin, custom_fields={"refund_amount": "19.90"})
    run = run_of(ticket)
    assert (run.state, run.active, Ticket.objects.get(pk=ticket.pk).status.key) == (
        "refunded",
        False,
        "solved",
    )


def test_the_documented_common_transition_cancels_from_any_state(
    desk: Any, fields: None, open_ticket: Any, transition: Any, now: Any
) -> None:
    blueprints_import(data=documented(desk), actor=desk.admin, now=now)
    ticket = open_ticket()
    transition(ticket, "label-sent", custom_fields={"order_id": "AB123456"}, note="Sent")
    transition(ticket, "cancel", note="The customer kept it")
    assert (run_of(ticket).state, Ticket.objects.get(pk=ticket.pk).status.key) == ("cancelled", "closed")
