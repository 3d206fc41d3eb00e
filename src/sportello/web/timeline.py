"""The audit trail as agents read it: who changed what, from what to what, and why.

Events store raw values (ids, keys); this module turns a ticket's events into one entry per
change (the events of one mutation share a `change_id`), resolving the ids it meets with one
query per kind of record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from sportello.accounts.models import Department, Team, User
from sportello.contacts.models import Contact, Organization
from sportello.tickets.models import CustomField, Status, TicketEvent

from .labels import CHANNEL_LABELS, FIELD_LABELS, category_label, priority_label, status_label

_ID_FIELDS: dict[str, Any] = {
    "department": Department,
    "team": Team,
    "assignee": User,
    "requester": Contact,
    "organization": Organization,
}


@dataclass(frozen=True, slots=True)
class EventRow:
    kind: str  # created | field | tags | message | other
    field: str
    old: str
    new: str
    public: bool


@dataclass(slots=True)
class Change:
    """One mutation: who, when, through which way in, why, and what it changed."""

    at: datetime
    actor: str
    via: str
    cause: str
    created: bool = False
    rows: list[EventRow] = field(default_factory=list)


def changes(events: Iterable[TicketEvent]) -> list[Change]:
    # The category follows the status; its own row would only repeat the status change.
    events = [e for e in events if e.field != "status_category"]
    wanted: dict[str, set[Any]] = defaultdict(set)
    for e in events:
        if e.field in _ID_FIELDS or e.field == "status":
            for value in (e.old_value, e.new_value):
                if value is not None:
                    wanted[e.field].add(value)
    names: dict[str, dict[Any, str]] = {}
    for name, ids in wanted.items():
        if name == "status":
            names[name] = {s.key: status_label(s.key, s.name) for s in Status.objects.filter(key__in=ids)}
        else:
            model = _ID_FIELDS[name]
            valid = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
            names[name] = {obj.pk: str(obj) for obj in model.objects.filter(pk__in=valid)}
    cf_keys = {e.field.split(".", 1)[1] for e in events if e.field.startswith("custom_fields.")}
    cf_labels = dict(CustomField.objects.filter(key__in=cf_keys).values_list("key", "label"))
    actors = _actor_names(events)
    grouped: dict[Any, Change] = {}
    for e in events:
        change = grouped.get(e.change_id)
        if change is None:
            actor = actors.get((e.actor_kind, e.actor_id)) or e.actor_label or _actor_kind_label(e.actor_kind)
            change = grouped[e.change_id] = Change(
                at=e.at, actor=actor, via=str(CHANNEL_LABELS.get(e.via, e.via)), cause=e.cause
            )
        row = _row(e, names, cf_labels)
        if row.kind == "created":
            change.created = True
        change.rows.append(row)
    for change in grouped.values():
        if change.created:
            # The opening values are the ticket's first state, not changes: show the opening
            # and its message only.
            change.rows = [r for r in change.rows if r.kind in ("created", "message")]
    return list(grouped.values())


def _actor_names(events: list[TicketEvent]) -> dict[tuple[str, int | None], str]:
    agent_ids = {e.actor_id for e in events if e.actor_kind == "agent" and e.actor_id is not None}
    contact_ids = {e.actor_id for e in events if e.actor_kind == "contact" and e.actor_id is not None}
    names: dict[tuple[str, int | None], str] = {}
    if agent_ids:
        names |= {
            ("agent", pk): name
            for pk, name in User.objects.filter(pk__in=agent_ids).values_list("pk", "name")
        }
    if contact_ids:
        for contact in Contact.objects.filter(pk__in=contact_ids):
            names[("contact", contact.pk)] = str(contact)
    return names


def _row(e: TicketEvent, names: dict[str, dict[Any, str]], cf_labels: dict[str, str]) -> EventRow:
    kind = e.kind if e.kind in ("created", "field", "tags", "message") else "other"
    if e.field.startswith("custom_fields."):
        key = e.field.split(".", 1)[1]
        label = cf_labels.get(key, key)
    else:
        label = str(FIELD_LABELS.get(e.field, e.field))
    return EventRow(
        kind=kind,
        field=label if kind in ("field", "tags", "other") else "",
        old=_display(e.field, e.old_value, names),
        new=_display(e.field, e.new_value, names),
        public=e.field == "public",
    )


def _display(field: str, value: Any, names: dict[str, dict[Any, str]]) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if field == "status":
        return names.get("status", {}).get(value, str(value))
    if field == "status_category":
        return category_label(str(value))
    if field == "priority":
        return priority_label(str(value))
    if field == "channel":
        return str(CHANNEL_LABELS.get(value, value))
    if field in _ID_FIELDS:
        return names.get(field, {}).get(value, f"#{value}")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _actor_kind_label(kind: str) -> str:
    return {
        "agent": _("an agent"),
        "contact": _("the customer"),
        "rule": _("a rule"),
        "sla": _("an SLA policy"),
        "blueprint": _("a blueprint"),
        "system": _("the system"),
    }.get(kind, kind)
