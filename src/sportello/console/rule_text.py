"""Rules in words, for the Console: a one-line summary for the list, a readable rendering of a
rule's condition and actions beside its YAML, errors and warnings with their place, and a dry
run's changes as "before → after". Everything here reads plain data (a definition as the editor
shows it, records by key) and is defensive: a half-written rule renders what it can."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.automation.models import RuleKind
from sportello.core.errors import DomainError, ValidationFailed
from sportello.web import labels

FIELD_LABELS: dict[str, Promise] = {
    "ticket.number": gettext_lazy("Ticket number"),
    "ticket.subject": gettext_lazy("Subject"),
    "ticket.status": gettext_lazy("Status"),
    "ticket.status_category": gettext_lazy("Status category"),
    "ticket.priority": gettext_lazy("Priority"),
    "ticket.channel": gettext_lazy("Channel"),
    "ticket.department": gettext_lazy("Department"),
    "ticket.team": gettext_lazy("Team"),
    "ticket.assignee": gettext_lazy("Assignee"),
    "ticket.requester": gettext_lazy("Requester"),
    "ticket.organization": gettext_lazy("Organization"),
    "ticket.tags": gettext_lazy("Tags"),
    "ticket.due_at": gettext_lazy("Due date"),
    "ticket.overdue": gettext_lazy("Overdue"),
    "ticket.created_at": gettext_lazy("Created"),
    "ticket.updated_at": gettext_lazy("Updated"),
    "ticket.first_response_at": gettext_lazy("First response"),
    "ticket.solved_at": gettext_lazy("Solved"),
    "ticket.message_count": gettext_lazy("Messages"),
    "ticket.customer_message_count": gettext_lazy("Customer messages"),
    "ticket.agent_reply_count": gettext_lazy("Agent replies"),
    "requester.email": gettext_lazy("Requester's e-mail"),
    "requester.domain": gettext_lazy("Requester's domain"),
    "requester.name": gettext_lazy("Requester's name"),
    "requester.vip": gettext_lazy("Requester is VIP"),
    "requester.language": gettext_lazy("Requester's language"),
    "organization.name": gettext_lazy("Organization's name"),
    "organization.tier": gettext_lazy("Organization's tier"),
    "organization.vip": gettext_lazy("Organization is VIP"),
    "ticket.satisfaction": gettext_lazy("Satisfaction"),
    "ticket.satisfaction_score": gettext_lazy("Satisfaction score"),
    "message.body": gettext_lazy("Message body"),
    "message.public": gettext_lazy("Message is public"),
    "message.author_kind": gettext_lazy("Message author"),
    "message.channel": gettext_lazy("Message channel"),
    "event.type": gettext_lazy("Event"),
    "event.via": gettext_lazy("Made via"),
    "event.actor_kind": gettext_lazy("Made by"),
    "event.depth": gettext_lazy("Causation depth"),
    "event.rated": gettext_lazy("Rated in this change"),
    "clock.in_business_hours": gettext_lazy("In business hours"),
}

OP_LABELS: dict[str, Promise] = {
    "is": gettext_lazy("is"),
    "is_not": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "contains_word": gettext_lazy("contains the word"),
    "starts_with": gettext_lazy("starts with"),
    "matches": gettext_lazy("matches the pattern"),
    "lt": gettext_lazy("is less than"),
    "lte": gettext_lazy("is at most"),
    "gt": gettext_lazy("is more than"),
    "gte": gettext_lazy("is at least"),
    "present": gettext_lazy("is set"),
    "absent": gettext_lazy("is not set"),
    "changed": gettext_lazy("changed"),
    "changed_to": gettext_lazy("changed to"),
    "changed_from": gettext_lazy("changed from"),
    "not_changed": gettext_lazy("did not change"),
}

ANCHOR_LABELS: dict[str, Promise] = {
    "created": gettext_lazy("the ticket was created"),
    "assigned": gettext_lazy("the ticket was assigned"),
    "last_customer_message": gettext_lazy("the customer's last message"),
    "last_agent_reply": gettext_lazy("the last agent reply"),
    "last_update": gettext_lazy("the last update"),
    "due_date": gettext_lazy("the due date"),
}

# Change fields as the ticket's events name them (`tickets.audit`).
EVENT_FIELD_LABELS: dict[str, str] = {
    "subject": "ticket.subject",
    "status": "ticket.status",
    "priority": "ticket.priority",
    "department": "ticket.department",
    "team": "ticket.team",
    "assignee": "ticket.assignee",
    "due_at": "ticket.due_at",
    "tags": "ticket.tags",
}


def field_label(path: Any) -> str:
    text = str(path)
    if text in FIELD_LABELS:
        return str(FIELD_LABELS[text])
    for prefix in ("ticket.custom.", "custom_fields.", "custom."):
        if text.startswith(prefix):
            return _("Custom field “%(key)s”") % {"key": text.removeprefix(prefix)}
    if text in EVENT_FIELD_LABELS:
        return str(FIELD_LABELS[EVENT_FIELD_LABELS[text]])
    return text


def value_text(value: Any) -> str:
    if value is None:
        return _("nothing")
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(value_text(v) for v in value) if value else _("nothing")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True, slots=True)
class Names:
    """How the desk names the values a rule holds by key: field path (`ticket.team`,
    `ticket.custom.size`, ...) or `macro` / `policy` -> key -> label. Priorities, status
    categories and channels are named without it."""

    by_path: dict[str, dict[str, str]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # custom fields' labels, by path


def _field(path: Any, names: Names | None) -> str:
    if names is not None and str(path) in names.fields:
        return names.fields[str(path)]
    return field_label(path)


# Whom an `assign` names, as the field that holds it.
ASSIGN_PATHS = {"team": "ticket.team", "agent": "ticket.assignee", "department": "ticket.department"}


def shown(path: str, value: Any, names: Names | None = None) -> str:
    """A value of the field `path` as the Desk shows it: records, statuses and picklist options
    by their labels, priorities, status categories and channels by theirs."""
    if isinstance(value, list | tuple):
        return ", ".join(shown(path, v, names) for v in value) if value else _("nothing")
    if isinstance(value, str):
        known = names.by_path.get(path, {}) if names is not None else {}
        if value in known:
            return known[value]
        if path == "ticket.priority" and value in labels.PRIORITY_LABELS:
            return labels.priority_label(value)
        if path in ("ticket.status", "ticket.status_category") and value in labels.CATEGORY_LABELS:
            return labels.category_label(value)
        if path in ("ticket.channel", "message.channel") and value in labels.CHANNEL_LABELS:
            return str(labels.CHANNEL_LABELS[value])
    return value_text(value)


# -- conditions and actions --------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    """A condition as a tree: a group (`all`, `any`, `not`) with children, or a predicate."""

    text: str
    children: list[Node] = field(default_factory=list)
    group: str = ""


def condition(node: Any, names: Names | None = None) -> Node:
    if isinstance(node, dict) and len(node) == 1:
        ((name, inner),) = node.items()
        if name == "all" and isinstance(inner, list):
            if not inner:
                return Node(_("Always"))
            return Node(_("All of these:"), [condition(c, names) for c in inner], "all")
        if name == "any" and isinstance(inner, list):
            return Node(_("Any of these:"), [condition(c, names) for c in inner], "any")
        if name == "not":
            return Node(_("Not this:"), [condition(inner, names)], "not")
    if isinstance(node, dict) and "field" in node:
        op = str(node.get("op", ""))
        words = f"{_field(node['field'], names)} {OP_LABELS.get(op, op)}"
        if "value" in node and op not in ("present", "absent", "changed", "not_changed"):
            words += f" {shown(str(node['field']), node['value'], names)}"
        return Node(words)
    return Node(value_text(node))


def action(item: Any, names: Names | None = None) -> str:
    if not isinstance(item, dict) or len(item) != 1:
        return value_text(item)
    ((name, arg),) = item.items()
    if name == "set" and isinstance(arg, dict):
        return _("Set %(field)s to %(value)s") % {
            "field": _field(arg.get("field"), names),
            "value": shown(str(arg.get("field")), arg.get("value"), names),
        }
    if name == "add_tags":
        return _("Add tags %(tags)s") % {"tags": value_text(arg)}
    if name == "remove_tags":
        return _("Remove tags %(tags)s") % {"tags": value_text(arg)}
    if name == "set_tags":
        return _("Set tags to %(tags)s") % {"tags": value_text(arg)}
    if name == "assign" and isinstance(arg, dict) and len(arg) == 1:
        ((target, who),) = arg.items()
        phrases = {
            "agent": _("Assign to agent %(who)s"),
            "team": _("Assign to team %(who)s"),
            "department": _("Move to department %(who)s"),
            "policy": _("Assign through policy %(who)s"),
        }
        path = ASSIGN_PATHS.get(str(target), str(target))
        return phrases.get(str(target), _("Assign to %(who)s")) % {"who": shown(path, who, names)}
    if name == "note":
        return _("Add an internal note")
    if name == "reply":
        return _("Reply publicly")
    if name == "notify" and isinstance(arg, dict):
        return _("E-mail %(to)s") % {"to": value_text(arg.get("to"))}
    if name == "webhook" and isinstance(arg, dict):
        return _("Call the webhook %(url)s") % {"url": value_text(arg.get("url"))}
    if name == "apply_macro":
        return _("Apply macro %(key)s") % {"key": shown("macro", arg, names)}
    if name == "escalate_tier":
        return _("Escalate to the next tier")
    if name == "stop":
        return _("Stop: no later rule runs")
    return f"{name}: {value_text(arg)}"


@dataclass(slots=True)
class Step:
    after: str
    actions: list[str]


@dataclass(slots=True)
class Rendering:
    """A rule in words: its condition as a tree, its actions (event rules) or steps (time rules)."""

    when: Node
    actions: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    anchor: str = ""
    on: str = ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _anchor(raw: Any, names: Names | None = None) -> str:
    text = str(raw or "")
    if text in ANCHOR_LABELS:
        return str(ANCHOR_LABELS[text])
    if text.startswith("status_entered:"):
        status = text.removeprefix("status_entered:")
        return _("the ticket entered %(status)s") % {"status": shown("ticket.status", status, names)}
    return text


def rendering(kind: RuleKind, definition: dict[str, Any], names: Names | None = None) -> Rendering:
    """The rule in words; `names` gives the labels of the records and options it names by key
    (without it, keys are shown)."""
    when = condition(definition.get("when"), names)
    if kind == RuleKind.TIME:
        steps = _list(definition.get("steps"))
        return Rendering(
            when=when,
            anchor=_anchor(definition.get("anchor"), names),
            steps=[
                Step(
                    after=value_text(s.get("after")) if isinstance(s, dict) else "",
                    actions=[
                        action(a, names) for a in (_list(s.get("actions")) if isinstance(s, dict) else [])
                    ],
                )
                for s in steps
            ],
        )
    actions = _list(definition.get("actions"))
    on = definition.get("on")
    return Rendering(
        when=when,
        actions=[action(a, names) for a in actions],
        on=value_text(on) if isinstance(on, list) else "",
    )


def summary(kind: RuleKind, definition: dict[str, Any]) -> str:
    """What a rule does, in one line: its actions (a time rule's, step by step)."""
    if kind == RuleKind.TIME:
        steps = _list(definition.get("steps"))
        anchor = _anchor(definition.get("anchor"))
        parts = [
            _("%(after)s after %(anchor)s: %(actions)s")
            % {
                "after": value_text(s.get("after")),
                "anchor": anchor,
                "actions": "; ".join(action(a) for a in _list(s.get("actions"))),
            }
            for s in steps
            if isinstance(s, dict)
        ]
        return " · ".join(parts)
    actions = _list(definition.get("actions"))
    return "; ".join(action(a) for a in actions)


# -- errors, warnings, changes -----------------------------------------------------------------


def error(exc: DomainError) -> str:
    """An error with the place it is about (`when.all[2].field: unknown field`)."""
    where = exc.field if isinstance(exc, ValidationFailed) else None
    return f"{where}: {exc.message}" if where else str(exc.message)


@dataclass(frozen=True, slots=True)
class Warning:
    label: str
    path: str
    message: str


WARNING_LABELS: dict[str, Promise] = {
    "opposite_writes": gettext_lazy("Ping-pong"),
    "reads_own_write": gettext_lazy("Fires again on every change"),
    "missing_placeholder": gettext_lazy("Unknown placeholder"),
    "unknown_category": gettext_lazy("Category not in the run order"),
    "unreachable": gettext_lazy("Unreachable"),
    "shadowed": gettext_lazy("Shadowed"),
}


def warning(w: Any) -> Warning:
    label = WARNING_LABELS.get(w.code)
    return Warning(label=str(label) if label else w.code, path=w.path, message=w.message)


def change_line(c: Any) -> str:
    """One change between two versions (`core.versioning.Change`), as "path: old → new"."""
    path = getattr(c, "path", "")
    old = getattr(c, "old", None)
    new = getattr(c, "new", None)
    return f"{path}: {value_text(old)} → {value_text(new)}"


@dataclass(frozen=True, slots=True)
class ChangeRow:
    label: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class DryRunRow:
    ticket_id: int
    number: int
    subject: str
    changes: list[ChangeRow]
    notes: list[str]
    notifications: list[str]
    webhooks: list[str]
    error: str | None


REF_MODELS = {"team": "Team", "department": "Department", "assignee": "User"}


def dry_run_rows(matched: list[Any]) -> list[DryRunRow]:
    """The tickets a dry run matched, their changes in words: records by name (one query per
    kind of record changed), priorities and statuses by their labels."""
    from sportello.accounts import models as accounts

    wanted: dict[str, set[int]] = {}
    for m in matched:
        for c in m.changes:
            if c["field"] in REF_MODELS:
                for v in (c["old_value"], c["new_value"]):
                    if isinstance(v, int) and not isinstance(v, bool):
                        wanted.setdefault(c["field"], set()).add(v)
    names: dict[str, dict[int, str]] = {}
    for name, ids in wanted.items():
        model = getattr(accounts, REF_MODELS[name])
        names[name] = {
            pk: label or email
            for pk, label, email in model.objects.filter(pk__in=ids).values_list(
                "pk", "name", "email" if name == "assignee" else "name"
            )
        }

    def shown(name: str, value: Any) -> str:
        if value is None or value == "":
            return _("nothing")
        if name in names and value in names[name]:
            return names[name][value]
        if name == "priority":
            return labels.priority_label(value)
        if name == "status":
            return labels.status_label(str(value))
        if name == "status_category":
            return labels.category_label(str(value))
        return value_text(value)

    return [
        DryRunRow(
            ticket_id=m.ticket_id,
            number=m.number,
            subject=m.subject,
            changes=[
                ChangeRow(
                    field_label(c["field"]),
                    shown(c["field"], c["old_value"]),
                    shown(c["field"], c["new_value"]),
                )
                for c in m.changes
            ],
            notes=list(m.notes),
            notifications=[
                _("E-mail to %(to)s: “%(subject)s”") % {"to": value_text(n["to"]), "subject": n["subject"]}
                for n in m.notifications
            ],
            webhooks=[_("Webhook to %(url)s") % {"url": w["url"]} for w in m.webhooks],
            error=m.error,
        )
        for m in matched
    ]


# -- a replay over the recorded history (`automation.replay`) ----------------------------------

REPLAY_COMPARISON: dict[str, Promise] = {
    "new": gettext_lazy("Newly affected"),
    "gone": gettext_lazy("No longer affected"),
    "same": gettext_lazy("Affected by the saved version too"),
}

REPLAY_NOTES: dict[str, Promise] = {
    "not_carried": gettext_lazy(
        "What the rule would have changed is not carried into the history that follows: the "
        "recorded history follows each firing."
    ),
    "people_now": gettext_lazy("Requester and organization facts are read as they are now."),
    "satisfaction_now": gettext_lazy("Satisfaction facts are read as they are now."),
    "recipients_now": gettext_lazy("Notification recipients are named as the desk's people are now."),
    "runs_last": gettext_lazy(
        "The rule is evaluated after the rules that ran on each change; rules that would have "
        "reacted to its changes in the same change are not replayed."
    ),
    "calendar_time": gettext_lazy(
        "Steps come due in calendar time, as the desk's time-rule timers count them."
    ),
    "history_differs": gettext_lazy(
        "The recorded history of some tickets does not lead to their current state (merged or "
        "imported): they are replayed as recorded."
    ),
    "no_history": gettext_lazy("Some tickets have no recorded opening (imported) and were not replayed."),
    "other_kind": gettext_lazy("A rule of the other kind has this key: no comparison."),
}


def replay_note(note: Any) -> str:
    """A limit of a replay in words (its count, when it has one, in brackets)."""
    text = str(REPLAY_NOTES[note.code]) if note.code in REPLAY_NOTES else str(note.message)
    if note.count:
        text += " " + _("(%(count)s tickets)") % {"count": note.count}
    return text


def other_action(name: str) -> str:
    """An action a replay names without its outcome (`automation.replay.ReplayFiring.other`)."""
    if name.startswith("assign_policy:"):
        return _("Assign through a round-robin policy (who depends on the agents' load then)")
    if name == "escalate_tier":
        return _("Escalate to the next tier")
    return name


@dataclass(frozen=True, slots=True)
class _Tried:
    """A replayed firing as `dry_run_rows` reads a dry run's match."""

    ticket_id: int
    number: int
    subject: str
    changes: list[dict[str, Any]]
    notes: list[str]
    notifications: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayFiringRow:
    at: Any  # datetime
    step: int | None
    what: DryRunRow
    other: list[str]


@dataclass(frozen=True, slots=True)
class ReplayRow:
    ticket_id: int
    number: int
    subject: str
    fired: int
    more: int  # firings not listed
    comparison: str | None
    comparison_label: str
    saved_at: list[Any]
    firings: list[ReplayFiringRow]


def replay_rows(tickets: list[Any]) -> list[ReplayRow]:
    """The tickets of a replay, each firing's changes in words (records by name: one query per
    kind of record changed, for all the tickets together)."""
    tried = [
        _Tried(t.ticket_id, t.number, t.subject, f.changes, f.notes, f.notifications, f.webhooks)
        for t in tickets
        for f in t.firings
    ]
    worded = iter(dry_run_rows(tried))
    rows: list[ReplayRow] = []
    for t in tickets:
        firings = [
            ReplayFiringRow(at=f.at, step=f.step, what=next(worded), other=[other_action(o) for o in f.other])
            for f in t.firings
        ]
        rows.append(
            ReplayRow(
                ticket_id=t.ticket_id,
                number=t.number,
                subject=t.subject,
                fired=t.fired,
                more=max(0, t.fired - len(firings)),
                comparison=t.comparison,
                comparison_label=str(REPLAY_COMPARISON[t.comparison]) if t.comparison else "",
                saved_at=list(t.saved_at),
                firings=firings,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: Any  # date
    count: int


@dataclass(frozen=True, slots=True)
class DayChart:
    """Firings a day as bars of an SVG drawn by the template (the numbers also as a table)."""

    width: int
    height: int
    bars: list[Bar]
    top: int  # the highest count
    baseline: float
    first: Any = None  # the first day (a date)
    last: Any = None  # the last day


CHART_WIDTH = 600
CHART_HEIGHT = 120
CHART_GAP = 1.0


def day_chart(per_day: list[tuple[Any, int]]) -> DayChart:
    top = max((n for _, n in per_day), default=0)
    slot = CHART_WIDTH / max(1, len(per_day))
    usable = CHART_HEIGHT - 4
    bars = []
    for i, (day, count) in enumerate(per_day):
        h = (count / top) * usable if top else 0.0
        if count and h < 2:
            h = 2.0  # a day with a firing is always visible
        bars.append(
            Bar(
                x=round(i * slot + CHART_GAP / 2, 2),
                y=round(CHART_HEIGHT - h, 2),
                width=round(max(1.0, slot - CHART_GAP), 2),
                height=round(h, 2),
                day=day,
                count=count,
            )
        )
    return DayChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        bars=bars,
        top=top,
        baseline=CHART_HEIGHT,
        first=per_day[0][0] if per_day else None,
        last=per_day[-1][0] if per_day else None,
    )
