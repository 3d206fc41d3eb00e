"""What a failed delivery means for a ticket. Registered with the outbox
(`outbox.hooks.on_delivery_failed`, from `TicketsConfig.ready`): the outbox knows no ticket code.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from sportello.core.actors import Actor, Via
from sportello.outbox.models import OutboxMessage
from sportello.outbox.services import outbox_add

from . import pipeline
from .models import EventKind, Message


def reply_failed(*, outbox_id: int, now: datetime) -> None:
    """An agent's e-mailed reply failed for good: record it on the ticket (a "delivery" event,
    through the pipeline, by the system) and tell the reply's author by e-mail. Runs after the
    failure is recorded, in a transaction of its own; once per item (the notice's dedupe key).
    Any other failed delivery is left alone."""
    item = OutboxMessage.objects.filter(pk=outbox_id, kind="email").first()
    message_id = (
        item.payload.get("message_id") if item is not None and isinstance(item.payload, dict) else None
    )
    if item is None or not isinstance(message_id, int) or isinstance(message_id, bool):
        return
    message = Message.objects.select_related("author_agent").filter(pk=message_id).first()
    if message is None:
        return
    to = [str(a) for a in item.payload.get("to") or []]
    error = item.last_error
    dedupe_key = f"delivery-failed:{item.pk}"
    with transaction.atomic():
        if OutboxMessage.objects.filter(dedupe_key=dedupe_key).exists():
            return
        outcome = pipeline.ticket_apply(
            ticket_id=item.ticket_id or message.ticket_id,
            mutation=pipeline.Mutation(
                actor=Actor.system("delivery"),
                via=Via.SYSTEM,
                cause=f"outbox:{item.pk}",
                records=(
                    pipeline.NewRecord(
                        kind=EventKind.DELIVERY,
                        field="failed",
                        new={"outbox_id": item.pk, "message_id": message_id, "to": to, "error": error},
                    ),
                ),
                authorised=True,
            ),
            now=now,
        )
        author = message.author_agent
        if author is None or not author.is_active or not author.email:
            return
        ticket = outcome.ticket
        recipients = ", ".join(to)
        outbox_add(
            kind="email",
            ticket=ticket,
            change_id=outcome.change_id,
            dedupe_key=dedupe_key,
            payload={
                "to": [author.email],
                "subject": f"[#{ticket.number}] Your reply to {recipients} was not delivered",
                "body": (
                    f"Your reply on ticket #{ticket.number} ({ticket.subject}) to {recipients} "
                    f"could not be delivered, and will not be retried.\n\n"
                    f"Reason: {error}\n\n"
                    "The reply is kept on the ticket. Check the address, or reach the customer "
                    "another way.\n"
                ),
                "ticket_number": ticket.number,
                "automatic": True,
            },
            now=now,
        )
