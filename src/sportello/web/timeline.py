"""The audit trail as agents read it: who changed what, from what to what, and why.

Events store raw values (ids, keys); this module turns a ticket's events into one entry per
change (the events of one mutation share a `change_id`), resolving the ids it meets with one
query per kind of record."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sportello.accounts.models import Department, Team, User
from sportello.contacts.models import Contact, MergedContact, Organization
from sportello.tickets.audit import expand
from sportello.tickets.contact_merge import CONTACT_MERGED
from sportello.tickets.models import NOTIFICATION_NO_ADDRESS, CustomField, EventKind, Status, TicketEvent

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
    kind: str  # created | field | tags | message | sentence
    field: str = ""
    old: str = ""
    new: str = ""
    public: bool = False
    text: str = ""  # a sentence: what happened, for every kind that is not a field change
    detail: str = ""  # the recorded reason or error, as written by the system
    known: bool = True  # False: an event of a kind this module has no renderer for
    source: str = ""  # the event's kind (an EventKind), for the history's filters


@dataclass(slots=True)
class Change:
    """One mutation: who, when, through which way in, why, and what it changed."""

    at: datetime
    actor: str
    via: str
    cause: str
    actor_kind: str = ""
    created: bool = False
    rows: list[EventRow] = field(default_factory=list)


def _ids_of(e: TicketEvent) -> list[tuple[str, Any]]:
    """The records an event names by id, as (kind of record, id) pairs."""
    if e.kind == EventKind.FIELD and (e.field in _ID_FIELDS or e.field == "status"):
        return [(e.field, v) for v in (e.old_value, e.new_value) if v is not None]
    data = e.new_value if isinstance(e.new_value, dict) else {}
    if e.kind == EventKind.ASSIGNMENT:
        return [("assignee", data.get("agent"))]
    if e.kind == EventKind.TASK:
        return [("assignee", data.get("assignee"))]
    return []


@dataclass(frozen=True, slots=True)
class Known:
    """Records the caller has read already (a page, for its other panels): `changes` asks the
    database only for what it does not find here. `statuses`: every status (None: not read);
    `records`: by the kind of record events name by id (`_ID_FIELDS`: "assignee" holds users,
    also the agents who made changes; "requester" contacts, also the customers who did), by id;
    `custom_fields` by key; `blueprint_versions` by (blueprint key, version), with their
    blueprint; `tier_paths` (`sla.tiers.Path`) by key."""

    statuses: Sequence[Status] | None = None
    records: Mapping[str, Mapping[int, Any]] = field(default_factory=dict)
    custom_fields: Mapping[str, CustomField] = field(default_factory=dict)
    blueprint_versions: Mapping[tuple[str, int], Any] = field(default_factory=dict)
    tier_paths: Mapping[str, Any] = field(default_factory=dict)


NOTHING_KNOWN = Known()


def changes(events: Iterable[TicketEvent], known: Known = NOTHING_KNOWN) -> list[Change]:
    # An opening recorded as one event with its initial values reads as the per-field events
    # it stands for (`tickets.audit.expand`): both shapes of the trail read alike.
    # The category follows the status; its own row would only repeat the status change.
    events = [e for e in expand(events) if not (e.kind == EventKind.FIELD and e.field == "status_category")]
    # The opening values are the ticket's first state, not changes (see below): dropped before
    # their ids are resolved.
    openings = {e.change_id for e in events if e.kind == EventKind.CREATED}
    events = [
        e for e in events if not (e.change_id in openings and e.kind in (EventKind.FIELD, EventKind.TAGS))
    ]
    wanted: dict[str, set[Any]] = defaultdict(set)
    for e in events:
        for name, value in _ids_of(e):
            if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                wanted[name].add(value)
    names: dict[str, dict[Any, str]] = {}
    for name, ids in wanted.items():
        if name == "status":
            statuses = known.statuses
            if statuses is None:
                statuses = list(Status.objects.filter(key__in=ids))
            names[name] = {s.key: status_label(s.key, s.name) for s in statuses if s.key in ids}
        else:
            model = _ID_FIELDS[name]
            have = known.records.get(name, {})
            valid = [i for i in ids if isinstance(i, int)]
            missing = [i for i in valid if i not in have]
            names[name] = {i: str(have[i]) for i in valid if i in have}
            if missing:
                names[name] |= {obj.pk: str(obj) for obj in model.objects.filter(pk__in=missing)}
            if name == "requester" and (gone := [i for i in missing if i not in names[name]]):
                names[name] |= _merged_contact_names(gone)
    names |= _process_names(events, known)
    cf_keys = {
        e.field.split(".", 1)[1]
        for e in events
        if e.kind == EventKind.FIELD and e.field.startswith("custom_fields.")
    }
    cf_labels = {k: f.label for k, f in known.custom_fields.items() if k in cf_keys}
    if cf_keys - cf_labels.keys():
        cf_labels |= dict(
            CustomField.objects.filter(key__in=cf_keys - cf_labels.keys()).values_list("key", "label")
        )
    actors = _actor_names(events, known)
    grouped: dict[Any, Change] = {}
    for e in events:
        change = grouped.get(e.change_id)
        if change is None:
            actor = actors.get((e.actor_kind, e.actor_id)) or e.actor_label or _actor_kind_label(e.actor_kind)
            change = grouped[e.change_id] = Change(
                at=e.at,
                actor=actor,
                via=str(CHANNEL_LABELS.get(e.via, e.via)),
                cause=e.cause,
                actor_kind=e.actor_kind,
            )
        row = replace(event_row(e, names, cf_labels), source=e.kind)
        if row.kind == EventKind.CREATED:
            change.created = True
        change.rows.append(row)
    words = cause_words({c.cause for c in grouped.values()})
    for change in grouped.values():
        change.cause = words.get(change.cause, change.cause)
        if change.created:
            # The opening values are the ticket's first state, not changes: show the opening,
            # its message and what happened besides field values (an assignment, an SLA clock).
            change.rows = [r for r in change.rows if r.kind not in (EventKind.FIELD, EventKind.TAGS)]
    return list(grouped.values())


_CAUSE = re.compile(r"^(rule|timer|macro|assignment|sla|tier|blueprint|outbox|task):([^@:#]*)")


def _cause_models() -> dict[str, Any]:
    from sportello.automation.models import AssignmentPolicy, Macro, Rule
    from sportello.blueprints.models import Blueprint
    from sportello.sla.models import SlaPolicy, TierPath

    return {
        "rule": Rule,
        "timer": Rule,
        "macro": Macro,
        "assignment": AssignmentPolicy,
        "sla": SlaPolicy,
        "tier": TierPath,
        "blueprint": Blueprint,
    }


CAUSE_SENTENCES: dict[str, Promise] = {
    "rule": gettext_lazy("rule “%(name)s”"),
    "timer": gettext_lazy("a timer of rule “%(name)s”"),
    "macro": gettext_lazy("macro “%(name)s”"),
    "assignment": gettext_lazy("round-robin policy “%(name)s”"),
    "sla": gettext_lazy("SLA policy “%(name)s”"),
    "tier": gettext_lazy("escalation path “%(name)s”"),
    "blueprint": gettext_lazy("blueprint “%(name)s”"),
    "outbox": gettext_lazy("the e-mail delivery"),
    "task": gettext_lazy("task #%(name)s"),
}


def cause_words(causes: Iterable[str]) -> dict[str, str]:
    """Recorded causes (`rule:<key>@<version>`, `sla:<key>@<version>:…`, `task:<id>`, …) as
    words naming the rule, policy or process by its name; one query per kind of cause present.
    A cause of no known form (a reason typed by a person) stays as written."""
    parsed = {c: m for c in causes if c and (m := _CAUSE.match(c))}
    keys: dict[str, set[str]] = defaultdict(set)
    for m in parsed.values():
        keys[m.group(1)].add(m.group(2))
    models = _cause_models() if keys.keys() - {"outbox", "task"} else {}
    names: dict[tuple[str, str], str] = {}
    for prefix, wanted in keys.items():
        model = models.get(prefix)
        if model is not None:
            for key, name in model.objects.filter(key__in=wanted).values_list("key", "name"):
                names[(prefix, key)] = name
    words = {
        cause: str(CAUSE_SENTENCES[m.group(1)]) % {"name": names.get((m.group(1), m.group(2)), m.group(2))}
        for cause, m in parsed.items()
    }
    return words | {cause: str(FIXED_CAUSES[cause]) for cause in causes if cause in FIXED_CAUSES}


# Causes recorded as fixed words, in the reader's language.
FIXED_CAUSES: dict[str, Promise] = {CONTACT_MERGED: gettext_lazy("contact merged")}


def _merged_contact_names(ids: list[int]) -> dict[int, str]:
    """Contacts merged into another (and deleted), by their old id: as they were called."""
    return {
        pk: name or email or phone
        for pk, name, email, phone in MergedContact.objects.filter(source_id__in=ids).values_list(
            "source_id", "name", "email", "phone"
        )
    }


def _actor_names(events: list[TicketEvent], known: Known) -> dict[tuple[str, int | None], str]:
    agent_ids = {e.actor_id for e in events if e.actor_kind == "agent" and e.actor_id is not None}
    contact_ids = {e.actor_id for e in events if e.actor_kind == "contact" and e.actor_id is not None}
    names: dict[tuple[str, int | None], str] = {}
    users, contacts = known.records.get("assignee", {}), known.records.get("requester", {})
    for pk in agent_ids & users.keys():
        names[("agent", pk)] = users[pk].name
    for pk in contact_ids & contacts.keys():
        names[("contact", pk)] = str(contacts[pk])
    agent_ids -= users.keys()
    contact_ids -= contacts.keys()
    if agent_ids:
        names |= {
            ("agent", pk): name
            for pk, name in User.objects.filter(pk__in=agent_ids).values_list("pk", "name")
        }
    if contact_ids:
        for contact in Contact.objects.filter(pk__in=contact_ids):
            names[("contact", contact.pk)] = str(contact)
        if gone := [pk for pk in contact_ids if ("contact", pk) not in names and pk is not None]:
            names |= {("contact", pk): name for pk, name in _merged_contact_names(gone).items()}
    return names


Names = dict[str, dict[Any, str]]


def event_row(e: TicketEvent, names: Names, cf_labels: dict[str, str]) -> EventRow:
    """One event as the agent reads it: a field change (what, from, to), or a sentence."""
    if e.kind in (EventKind.CREATED, EventKind.MESSAGE):
        return EventRow(kind=e.kind, public=e.field == "public")
    if e.kind in (EventKind.FIELD, EventKind.TAGS):
        if e.field.startswith("custom_fields."):
            key = e.field.split(".", 1)[1]
            label = cf_labels.get(key, key)
        else:
            label = str(FIELD_LABELS.get(e.field, e.field))
        return EventRow(
            kind=e.kind,
            field=label,
            old=_display(e.field, e.old_value, names),
            new=_display(e.field, e.new_value, names),
        )
    renderer = SENTENCES.get(e.kind)
    data = e.new_value if isinstance(e.new_value, dict) else {}
    if renderer is None:
        # A kind without a renderer (a test fails for any kind of EventKind): its name, never
        # its raw data.
        what = f"{e.kind} {e.field}".strip().replace("_", " ")
        return EventRow(kind="sentence", text=what, known=False)
    if e.kind == EventKind.SLA:
        text, detail = _sla(e.field, data, names, by=_sla_policy(e))
    else:
        text, detail = renderer(e.field, data, names)
    return EventRow(kind="sentence", text=text, detail=detail)


Sentence = tuple[str, str]


def _name(names: Names, kind: str, pk: Any) -> str:
    if pk is None:
        return _("nobody")
    return names.get(kind, {}).get(pk, f"#{pk}")


def _attachment(field: str, d: dict[str, Any], names: Names) -> Sentence:
    size = filesizeformat(d.get("size") or 0)
    values = {"name": str(d.get("filename", "")), "size": size}
    if field == "staged":
        return _("uploaded %(name)s (%(size)s), not yet sent") % values, ""
    return _("attached %(name)s (%(size)s)") % values, ""


def _refused(field: str, d: dict[str, Any], names: Names) -> Sentence:
    if field == "causation_depth":
        values = {"depth": d.get("depth"), "max": d.get("max")}
        return _("a change %(depth)s automatic round trips deep was refused (at most %(max)s)") % values, ""
    return _("a change was refused"), str(d.get("reason", ""))


def _notification(field: str, d: dict[str, Any], names: Names) -> Sentence:
    if field == NOTIFICATION_NO_ADDRESS:
        return _("Not e-mailed: the customer has no e-mail address"), str(d.get("subject") or "")
    return _("a notification to %(to)s was not sent") % {"to": d.get("to", "")}, str(d.get("reason", ""))


def _delivery(field: str, d: dict[str, Any], names: Names) -> Sentence:
    to = ", ".join(str(a) for a in d.get("to") or [])
    return _("the e-mail to %(to)s could not be delivered") % {"to": to}, str(d.get("error") or "")


def _mail(field: str, d: dict[str, Any], names: Names) -> Sentence:
    if field == "released":
        return _("released this e-mail from the quarantine"), str(d.get("held") or "")
    to = ", ".join(str(a) for a in d.get("recipients") or [])
    if d.get("permanent"):
        return _("the e-mail to %(to)s bounced") % {"to": to}, str(d.get("reason") or "")
    return _("the e-mail to %(to)s is delayed") % {"to": to}, str(d.get("reason") or "")


def _task(field: str, d: dict[str, Any], names: Names) -> Sentence:
    values = {
        "title": d.get("title") or f"#{d.get('task')}",
        "agent": _name(names, "assignee", d.get("assignee")),
    }
    if field == "created":
        return _("added the task “%(title)s” for %(agent)s") % values, ""
    if field == "completed":
        return _("completed the task “%(title)s”") % values, ""
    if field == "reopened":
        return _("reopened the task “%(title)s”") % values, ""
    changed = ", ".join(str(TASK_FIELD_LABELS.get(k, k)) for k in d if k != "task")
    return _("changed the task #%(task)s: %(fields)s") % {"task": d.get("task"), "fields": changed}, ""


def _assignment(field: str, d: dict[str, Any], names: Names) -> Sentence:
    outcome, reason = d.get("outcome"), str(d.get("reason") or "")
    if outcome == "assigned":
        return _("assigned the ticket to %(agent)s by round robin") % {
            "agent": _name(names, "assignee", d.get("agent"))
        }, reason
    if outcome == "backlog":
        return _("found no agent to assign by round robin: the ticket waits in the backlog"), reason
    return _("found no agent to assign by round robin"), reason


def _sla(field: str, d: dict[str, Any], names: Names, by: str = "") -> Sentence:
    """An SLA clock's event with its instant: when a started or changed clock is due (and who
    started it: `by`, the policy in words), when it paused, resumed, was met or breached. Events
    recorded before clocks kept their due instant read with their target instead."""
    metric = str(METRIC_LABELS.get(d.get("metric", ""), d.get("metric", "")))
    values = {"metric": metric, "by": by}
    if field in ("warning", "escalated"):
        values["due"] = _when(d.get("due_at"))
        if field == "warning":
            return _("%(metric)s due %(due)s: warning") % values, ""
        return _("%(metric)s due %(due)s: escalated") % values, ""
    target = d.get("target_us")
    due, at = _instant(d.get("due_at")), _instant(d.get("at"))
    detail = _("target %(target)s") % {"target": _duration(target)} if isinstance(target, int) else ""
    if field in ("started", "retargeted", "resumed") and due:
        values["due"] = due
        sentences = SLA_DUE_BY if by else SLA_DUE
        return str(sentences[field]) % values, detail
    if field in ("started", "retargeted") and isinstance(target, int):
        values["target"] = _duration(target)
        if field == "started":
            return _("%(metric)s clock started: target %(target)s") % values, ""
        return _("%(metric)s target changed to %(target)s") % values, ""
    if field == "superseded" and d.get("cause") == "merged":
        return _("%(metric)s clock stopped: the ticket was merged into another") % values, ""
    sentence = SLA_SENTENCES.get(field)
    if sentence is None:
        return _("%(metric)s clock: %(what)s") % {**values, "what": field.replace("_", " ")}, ""
    if at and field in SLA_AT_SENTENCES:
        return str(SLA_AT_SENTENCES[field]) % {**values, "at": at}, ""
    return str(sentence) % values, ""


SLA_ACTOR_PREFIX = "SLA policy "


def _sla_policy(e: TicketEvent) -> str:
    """The policy an SLA event came from, in words ("SLA policy “VIP”"): its name as the event
    recorded it (the actor's label, `SLA policy <name>`, as `sla.hooks` and `sla.timers` write
    it), so the history needs no query for it."""
    label = e.actor_label or ""
    if e.actor_kind != "sla" or not label.startswith(SLA_ACTOR_PREFIX):
        return ""
    return str(CAUSE_SENTENCES["sla"]) % {"name": label.removeprefix(SLA_ACTOR_PREFIX)}


def _process_names(events: list[TicketEvent], known: Known) -> Names:
    """The names of the tier paths and blueprints that tier and blueprint events name by key:
    `tier_path` (path key -> name), `tier` ((path, tier) -> name), `blueprint` (key -> name),
    `bp_state` and `bp_transition` ((blueprint, key) -> name). One query per kind present that
    `known` does not hold."""
    from sportello.blueprints.models import BlueprintVersion
    from sportello.sla.models import TierPath

    out: Names = {"tier_path": {}, "tier": {}, "blueprint": {}, "bp_state": {}, "bp_transition": {}}
    data = [(e.kind, e.new_value) for e in events if isinstance(e.new_value, dict)]
    paths = {str(d.get("path")) for k, d in data if k == EventKind.TIER and d.get("path")}
    for key in paths & known.tier_paths.keys():
        path = known.tier_paths[key]
        out["tier_path"][key] = path.name
        for tier in path.tiers:
            out["tier"][(key, tier.key)] = tier.name or tier.key
    if unknown := paths - known.tier_paths.keys():
        for row in TierPath.objects.filter(key__in=unknown):
            out["tier_path"][row.key] = row.name
            for t in (row.definition or {}).get("tiers", []):
                out["tier"][(row.key, t.get("key"))] = t.get("name") or t.get("key")
    wanted = {
        (str(d.get("blueprint")), version)
        for k, d in data
        if k == EventKind.BLUEPRINT and d.get("blueprint") and isinstance(version := d.get("version"), int)
    }
    if wanted:
        versions: Iterable[BlueprintVersion]
        if wanted <= known.blueprint_versions.keys():
            versions = [known.blueprint_versions[w] for w in wanted]
        else:  # all of them again (when versions disagree on a name, the database's order decides)
            which = Q()
            for key, version in wanted:
                which |= Q(blueprint__key=key, version=version)
            versions = BlueprintVersion.objects.filter(which).select_related("blueprint")
        for bp_version in versions:
            key = bp_version.blueprint.key
            out["blueprint"][key] = bp_version.blueprint.name
            for s in (bp_version.definition or {}).get("states", []):
                out["bp_state"][(key, s.get("key"))] = s.get("name") or s.get("key")
            for t in (bp_version.definition or {}).get("transitions", []):
                out["bp_transition"][(key, t.get("key"))] = t.get("name") or t.get("key")
    return out


def _tier(field: str, d: dict[str, Any], names: Names) -> Sentence:
    path = str(d.get("path") or "")

    def tier(key: Any) -> str:
        return names.get("tier", {}).get((path, key), str(key or "—"))

    reason = str(d.get("reason") or "")
    if field == "escalated":
        values = {"from": tier(d.get("from")), "to": tier(d.get("to")), "reason": reason}
        if reason:
            return _("escalated from %(from)s to %(to)s: %(reason)s") % values, ""
        return _("escalated from %(from)s to %(to)s") % values, ""
    if field == "entered":
        values = {"tier": tier(d.get("tier")), "path": names.get("tier_path", {}).get(path, path)}
        return _("entered %(tier)s of the escalation path %(path)s") % values, ""
    reason = "; ".join(str(d[k]) for k in ("reason", "refused") if d.get(k))
    return _("a tier escalation was refused"), reason


def _blueprint(field: str, d: dict[str, Any], names: Names) -> Sentence:
    key = str(d.get("blueprint", ""))

    def state(value: Any) -> str:
        return names.get("bp_state", {}).get((key, value), str(value or ""))

    values = {
        "blueprint": names.get("blueprint", {}).get(key, key),
        "from": state(d.get("from")),
        "to": state(d.get("to")),
        "state": state(d.get("state")),
        "transition": names.get("bp_transition", {}).get(
            (key, d.get("transition")), str(d.get("transition") or "")
        ),
    }
    sentence = BLUEPRINT_SENTENCES.get(field)
    if field == "time_limit":
        values["due"] = _when(d.get("due_at"))
    if sentence is None:
        return _("blueprint %(blueprint)s: %(what)s") % {**values, "what": field.replace("_", " ")}, ""
    return str(sentence) % values, str(d.get("reason") or "")


def _merge(field: str, d: dict[str, Any], names: Names) -> Sentence:
    values = {
        "number": d.get("number", ""),
        "messages": d.get("messages", 0),
        "attachments": d.get("attachments", 0),
    }
    if field == "merged_into":
        return _("merged this ticket into #%(number)s") % values, ""
    return _(
        "merged #%(number)s into this ticket: %(messages)s messages, %(attachments)s attachments"
    ) % values, ""


def _split(field: str, d: dict[str, Any], names: Names) -> Sentence:
    if field == "split_to":
        return _("split a customer's message into the new ticket #%(number)s") % {
            "number": d.get("number", "")
        }, ""
    return _("opened this ticket from a message of #%(number)s") % {"number": d.get("number", "")}, ""


RATING_LABELS: dict[str, Promise] = {
    "good": gettext_lazy("good"),
    "neutral": gettext_lazy("neutral"),
    "bad": gettext_lazy("bad"),
}


def _rating(field: str, d: dict[str, Any], names: Names) -> Sentence:
    """A satisfaction rating (surveys): the rating on its scale, and the comment as detail."""
    satisfaction = str(RATING_LABELS.get(str(d.get("satisfaction")), d.get("satisfaction", "")))
    rating = d.get("rating")
    value = f"{rating}/5" if d.get("scale") == "five" else satisfaction
    values = {"rating": value, "satisfaction": satisfaction}
    extras = []
    if d.get("ces") is not None:
        extras.append(_("effort %(ces)s/7") % {"ces": d["ces"]})
    if d.get("nps") is not None:
        extras.append(_("recommend %(nps)s/10") % {"nps": d["nps"]})
    if field == "changed":
        text = _("changed the satisfaction rating to %(rating)s (%(satisfaction)s)") % values
    else:
        text = _("rated the support %(rating)s (%(satisfaction)s)") % values
    if extras:
        text = f"{text} · {', '.join(extras)}"
    return text, str(d.get("comment") or "")


SENTENCES: dict[str, Callable[[str, dict[str, Any], Names], Sentence]] = {
    EventKind.ATTACHMENT: _attachment,
    EventKind.REFUSED: _refused,
    EventKind.NOTIFICATION: _notification,
    EventKind.DELIVERY: _delivery,
    EventKind.MAIL: _mail,
    EventKind.TASK: _task,
    EventKind.ASSIGNMENT: _assignment,
    EventKind.SLA: _sla,
    EventKind.TIER: _tier,
    EventKind.BLUEPRINT: _blueprint,
    EventKind.MERGE: _merge,
    EventKind.SPLIT: _split,
    EventKind.RATING: _rating,
}
# Kinds the template renders itself (the opening, messages) or as field rows.
RENDERED_KINDS = frozenset(
    {EventKind.CREATED, EventKind.MESSAGE, EventKind.FIELD, EventKind.TAGS, *SENTENCES}
)

METRIC_LABELS: dict[str, Promise] = {
    "first_response": gettext_lazy("First response"),
    "next_response": gettext_lazy("Next response"),
    "periodic_update": gettext_lazy("Periodic update"),
    "resolution": gettext_lazy("Resolution"),
}
# A clock that runs, with the instant it is due: started or changed by a policy (`by`).
SLA_DUE_BY: dict[str, Promise] = {
    "started": gettext_lazy("%(metric)s due %(due)s — started by %(by)s"),
    "retargeted": gettext_lazy("%(metric)s now due %(due)s — changed by %(by)s"),
    "resumed": gettext_lazy("%(metric)s clock resumed: due %(due)s"),
}
SLA_DUE: dict[str, Promise] = {
    "started": gettext_lazy("%(metric)s due %(due)s — clock started"),
    "retargeted": gettext_lazy("%(metric)s now due %(due)s — target changed"),
    "resumed": gettext_lazy("%(metric)s clock resumed: due %(due)s"),
}
# What happened to a clock, at the instant it happened (a breach: its true instant).
SLA_AT_SENTENCES: dict[str, Promise] = {
    "paused": gettext_lazy("%(metric)s clock paused at %(at)s"),
    "resumed": gettext_lazy("%(metric)s clock resumed at %(at)s"),
    "fulfilled": gettext_lazy("%(metric)s target met at %(at)s"),
    "superseded": gettext_lazy("%(metric)s clock replaced by a new policy at %(at)s"),
    "breached": gettext_lazy("%(metric)s target breached at %(at)s"),
}
SLA_SENTENCES: dict[str, Promise] = {
    "started": gettext_lazy("%(metric)s clock started"),
    "retargeted": gettext_lazy("%(metric)s target changed"),
    "paused": gettext_lazy("%(metric)s clock paused"),
    "resumed": gettext_lazy("%(metric)s clock resumed"),
    "fulfilled": gettext_lazy("%(metric)s target met"),
    "superseded": gettext_lazy("%(metric)s clock replaced by a new policy"),
    "breached": gettext_lazy("%(metric)s target breached"),
}
BLUEPRINT_SENTENCES: dict[str, Promise] = {
    "attached": gettext_lazy("entered the process %(blueprint)s in state %(to)s"),
    "transition": gettext_lazy("moved the process %(blueprint)s from %(from)s to %(to)s (%(transition)s)"),
    "bypassed": gettext_lazy(
        "moved the process %(blueprint)s from %(from)s to %(to)s outside its transitions"
    ),
    "bypass_refused": gettext_lazy("a status change outside the process %(blueprint)s was refused"),
    "completed": gettext_lazy("completed the process %(blueprint)s in state %(state)s"),
    "detached": gettext_lazy("left the process %(blueprint)s in state %(from)s"),
    "time_limit": gettext_lazy(
        "time limit of state %(state)s in process %(blueprint)s reached (due %(due)s)"
    ),
}
TASK_FIELD_LABELS: dict[str, Promise] = {
    "title": gettext_lazy("title"),
    "assignee": gettext_lazy("assignee"),
    "due_at": gettext_lazy("due date"),
    "status": gettext_lazy("status"),
    "reminders": gettext_lazy("reminders"),
    "description": gettext_lazy("description"),
}


def _when(value: Any) -> str:
    return _instant(value) or "—"


def _instant(value: Any) -> str:
    """A recorded instant in the viewer's time zone and language ("Tue 3 Nov 14:00"); "" when
    there is none."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    return date_format(timezone.localtime(at), "D j M H:i")


def _duration(us: int) -> str:
    minutes = max(us, 0) // 60_000_000
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if mins or not parts:
        parts.append(_("%(n)d min") % {"n": mins})
    return " ".join(parts)


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
