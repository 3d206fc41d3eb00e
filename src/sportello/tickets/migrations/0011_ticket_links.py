"""Tickets link to the ticket they were merged into and to the closed ticket they follow up.
Both were known until now only from events: a merge's `merge`/`merged_into` event names its
target (`{"ticket": id, "number": n}`), and a follow-up's creation carries the cause
`follow-up of #<number>`. The links are filled from them."""

import re

import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000
FOLLOW_UP_CAUSE = re.compile(r"^follow-up of #(\d+)$")


def _save(Ticket, links, field):
    rows = [Ticket(pk=pk, **{field: other}) for pk, other in links.items()]
    Ticket.objects.bulk_update(rows, [field], batch_size=BATCH)


def links_from_events(apps, schema_editor):
    Ticket = apps.get_model("tickets", "Ticket")
    TicketEvent = apps.get_model("tickets", "TicketEvent")
    # Merges: the latest `merged_into` event of each ticket names where it went.
    merged = {}
    events = TicketEvent.objects.filter(kind="merge", field="merged_into").order_by("id")
    for ticket_id, value in events.values_list("ticket_id", "new_value").iterator(chunk_size=BATCH):
        if isinstance(value, dict) and isinstance(value.get("ticket"), int):
            merged[ticket_id] = value["ticket"]
    existing = set(Ticket.objects.filter(pk__in=set(merged.values())).values_list("pk", flat=True))
    _save(Ticket, {k: v for k, v in merged.items() if v in existing and v != k}, "merged_into_id")
    # Follow-ups: the cause their creation recorded names the closed ticket by number.
    numbers = {}
    created = TicketEvent.objects.filter(kind="created", cause__startswith="follow-up of #")
    for ticket_id, cause in created.values_list("ticket_id", "cause").iterator(chunk_size=BATCH):
        found = FOLLOW_UP_CAUSE.match(cause)
        if found:
            numbers[ticket_id] = int(found.group(1))
    by_number = dict(
        Ticket.objects.filter(number__in=set(numbers.values())).values_list("number", "pk")
    )
    followed = {k: by_number[n] for k, n in numbers.items() if n in by_number and by_number[n] != k}
    _save(Ticket, followed, "follow_up_of_id")


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0010_ticket_viewer'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticket',
            name='follow_up_of',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='follow_ups', to='tickets.ticket'),
        ),
        migrations.AddField(
            model_name='ticket',
            name='merged_into',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='merged_from', to='tickets.ticket'),
        ),
        migrations.RunPython(links_from_events, migrations.RunPython.noop, elidable=True),
    ]
