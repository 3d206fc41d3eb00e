"""Tiered support: a department's tiers in order and how a ticket moves up them.

A tier path, as admins write it (JSON or YAML):

    key: support-tiers
    name: Support tiers
    department: 3                 # the tickets of this department follow it
    tiers:                        # in order; a ticket starts at the first
      - {key: t1, name: Tier 1, team: 4}
      - {key: t2, name: Tier 2, team: 5}
      - {key: t3, name: Engineering, team: 9, department: 7}    # may hand over to another department

A ticket enters the path at its first tier — created in the department, or moved into it — and
goes to that tier's team unless the change gave it a team (see `enter_path`).

To whom: the tier's team (the assignee is cleared, so the team's queue — or a round-robin rule
on it — takes it). How: a change of the ticket's team (and department) made by whoever
escalates, recorded as a `tier` event with its reason. When: an agent escalates
(`POST /api/v1/tickets/{id}/escalate` with a reason), or automation does — the action
`{escalate_tier: {reason: "..."}}` in an event rule, a time rule's step or an SLA escalation
level (e.g. at the first-response breach). A ticket already at the last tier is not escalated:
for automation the refusal is recorded as an event (`tier` / `escalation_refused`) and the rest
of the change stands. SLA records carry the tier the ticket was at, so reports group by tier.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.db.models import F

from sportello.accounts.models import Department, Role, Team, User
from sportello.accounts.services import require_admin
from sportello.core.actors import Via
from sportello.core.config import config_cached
from sportello.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from sportello.core.text import clean_text
from sportello.core.versioning import ConfigKind, register_kind, version_lock, version_save
from sportello.tickets.models import EventKind

from .models import TicketTier, TierPath, TierPathVersion

if TYPE_CHECKING:
    from sportello.tickets.pipeline import Author, Context

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TIERS_MAX = 10
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Tier:
    key: str
    name: str
    team: int
    department: int  # the tier's department: its own, or the path's


@dataclass(frozen=True, slots=True)
class Path:
    id: int
    key: str
    name: str
    department: int
    tiers: tuple[Tier, ...]

    def index(self, key: str) -> int:
        return next(i for i, t in enumerate(self.tiers) if t.key == key)


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field=field)


def path_validate(data: Any) -> dict[str, Any]:
    """The definition checked (teams exist and belong to the tier's department) and normalised."""
    if not isinstance(data, dict):
        raise _fail("", "a tier path must be an object")
    unknown = set(data) - {"key", "name", "department", "tiers"}
    if unknown:
        raise _fail(sorted(unknown)[0], "unknown key")
    key = data.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _fail("key", "must be a slug: lower-case letters, digits, - and _")
    name = data.get("name")
    if not isinstance(name, str):
        raise _fail("name", "is required")
    name = clean_text(name, field="name", max_length=200, single_line=True, required=True)
    department = data.get("department")
    if (
        isinstance(department, bool)
        or not isinstance(department, int)
        or not Department.objects.filter(pk=department).exists()
    ):
        raise _fail("department", "must be the id of a department")
    tiers = data.get("tiers")
    if not isinstance(tiers, list) or not 2 <= len(tiers) <= TIERS_MAX:
        raise _fail("tiers", f"must list 2 to {TIERS_MAX} tiers")
    seen: set[str] = set()
    out = []
    for i, tier in enumerate(tiers):
        where = f"tiers[{i}]"
        if not isinstance(tier, dict) or set(tier) - {"key", "name", "team", "department"}:
            raise _fail(where, "must be {key, name, team, department?}")
        tkey = tier.get("key")
        if not isinstance(tkey, str) or not _KEY.fullmatch(tkey) or tkey in seen:
            raise _fail(f"{where}.key", "must be a slug, unique in the path")
        seen.add(tkey)
        tname = tier.get("name")
        if not isinstance(tname, str):
            raise _fail(f"{where}.name", "is required")
        tdept = tier.get("department", department)
        team = tier.get("team")
        if isinstance(team, bool) or not isinstance(team, int):
            raise _fail(f"{where}.team", "must be the id of a team")
        found = Team.objects.filter(pk=team).values_list("department_id", flat=True).first()
        if found is None:
            raise _fail(f"{where}.team", f"no team with id {team}")
        if found != tdept:
            raise _fail(f"{where}.team", "this team belongs to another department than the tier's")
        tname = clean_text(tname, field=f"{where}.name", max_length=200, single_line=True, required=True)
        entry = {"key": tkey, "name": tname, "team": team}
        if tdept != department:
            entry["department"] = tdept
        out.append(entry)
    return {"key": key, "name": name, "department": department, "tiers": out}


@transaction.atomic
def tier_path_save(
    *,
    definition: Any,
    actor: User | None,
    now: datetime,
    create: bool | None = None,
    expected_version: int | None = None,
) -> tuple[TierPath, bool]:
    """Create the tier path named by `definition["key"]` or save a new version of it (an
    identical definition writes nothing). A department follows one path. `create`: True refuses
    an existing key (409 `tier_path_exists`); `expected_version`: the version the caller edited —
    another one current is a Conflict `stale_version`, nothing written."""
    require_admin(actor)
    item = path_validate(definition)
    path = version_lock(TIER_PATHS, item["key"])
    if path is not None and create:
        raise Conflict(
            f"a tier path with the key {item['key']!r} exists", field="key", code="tier_path_exists"
        )
    if path is not None and expected_version is not None and path.version != expected_version:
        raise Conflict(
            "the tier path changed since you loaded it "
            f"(your version {expected_version}, now {path.version})",
            code="stale_version",
        )
    other = TierPath.objects.filter(department_id=item["department"]).exclude(key=item["key"]).first()
    if other is not None:
        raise Conflict(f"the department follows the tier path {other.key!r} already", field="department")
    saved = version_save(
        TIER_PATHS,
        key=item["key"],
        definition=item,
        created_by=actor,
        now=now,
        head=path,
        fields={"name": item["name"], "department_id": item["department"], "definition": item},
    )
    return saved.head, saved.written


def _tier_path_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[TierPath, bool]:
    return tier_path_save(definition=definition, actor=actor, now=now)


# Tier paths as a versioned configuration kind (`core.versioning`): the head keeps a copy of
# the current definition, which the escalation path reads.
TIER_PATHS = register_kind(
    ConfigKind(
        name="tier_paths",
        label="tier path",
        head=TierPath,
        version=TierPathVersion,
        parent="path",
        save=_tier_path_save_again,
        head_holds_definition=True,
        signature="tier_paths",
    )
)


def _read_paths() -> dict[int, Path]:
    found = {}
    for row in TierPath.objects.filter(active=True):
        d = row.definition
        tiers = tuple(
            Tier(t["key"], t["name"], t["team"], t.get("department", d["department"])) for t in d["tiers"]
        )
        found[row.department_id] = Path(row.pk, row.key, row.name, row.department_id, tiers)
    return found


def paths_by_department(memo: dict[str, Any] | None = None) -> dict[int, Path]:
    """The active tier paths by department, parsed once per process (under their signature)."""
    return config_cached("tier_paths", _read_paths, memo)


def ticket_tier(ticket: Any, memo: dict[str, Any] | None = None) -> tuple[Path, Tier] | None:
    """The ticket's path and tier (its department's path at the first tier when never moved)."""
    paths = paths_by_department(memo)
    if not paths:
        return None  # no active path: no tier to read
    row: TicketTier | None = None
    if ticket.pk is not None:
        # Read with the ticket when it was (`select_related("tier")`, the ticket page), else now.
        reverse = TicketTier._meta.get_field("ticket").remote_field
        if reverse.is_cached(ticket):
            row = cast(TicketTier | None, reverse.get_cached_value(ticket))
        else:
            row = TicketTier.objects.filter(ticket_id=ticket.pk).first()
    if row is not None:
        path = next((p for p in paths.values() if p.id == row.path_id), None)
        if path is not None and any(t.key == row.tier for t in path.tiers):
            return path, path.tiers[path.index(row.tier)]
    path = paths.get(ticket.department_id)
    return (path, path.tiers[0]) if path is not None else None


def enter_path(ctx: Context) -> None:
    """A ticket entering a tier path within the change under way — created in a department that
    has one, or moved into it (not by an escalation of its own path) — starts at the path's first
    tier, in that tier's team: when the ticket has no team after the change so far, the team (and
    the tier's department, when it is another) is set through `ctx.change` under the path
    (actor `system`, cause `tier:<path>:entered`), and a `tier` event `entered` is recorded. A
    team chosen in the same change (by whoever made it, or a rule) is kept. Called before and
    after the event rules run; each entry happens once per change."""
    from sportello.core.actors import Actor, ActorKind
    from sportello.tickets import pipeline

    ticket = ctx.ticket
    department = ticket.department_id
    if department is None or ctx.memo.get("tier_entered") == department:
        return
    if not ctx.created and department == ctx.before.get("department"):
        return
    path = paths_by_department(ctx.memo).get(department)
    if path is None:
        return
    if any(e.kind == "tier" and e.field == "escalated" for e in ctx.events):
        return  # an escalation moved it here: it stays on the path it climbed
    row = None if ctx.created else TicketTier.objects.filter(ticket_id=ticket.pk).first()
    if row is not None and row.path_id == path.id:
        return  # back on a path it already follows: it keeps its tier
    ctx.memo["tier_entered"] = department
    first = path.tiers[0]
    author = pipeline.Author(
        actor=Actor(kind=ActorKind.SYSTEM, id=path.id, label=path.name), cause=f"tier:{path.key}:entered"
    )
    if ticket.team_id is None:
        fields: dict[str, Any] = {"team": first.team}
        if first.department != department:
            fields["department"] = first.department
        # A team removed since the path was saved fails validation: the ticket stays without one.
        with contextlib.suppress(ValidationFailed):
            ctx.change(author=author, fields=fields)
    data = {"path": path.key, "tier": first.key, "team": ticket.team_id}
    _record(ctx, author, "entered", data)
    if row is not None:  # it stood on another path's tier: it now starts this one
        ticket_id, now = ticket.pk, ctx.now

        def save() -> None:
            TicketTier.objects.filter(ticket_id=ticket_id).update(
                path_id=path.id, tier=first.key, entered_at=now, escalations=0
            )

        ctx.after_write(save)


def escalate_in_change(ctx: Context, *, reason: str, to: str | None, author: Author) -> Tier:
    """Move the ticket under change up its tier path, within the change: its team (and
    department) set through `ctx.change` under `author`, the assignee cleared, a `tier`
    event recorded. Raises Conflict at the last tier or for a tier not above the current one."""

    found = ticket_tier(ctx.ticket, ctx.memo)
    if found is None:
        raise Conflict("this ticket's department has no tier path", code="no_tier_path")
    path, current = found
    here = path.index(current.key)
    target: Tier | None
    if to is None:
        if here + 1 >= len(path.tiers):
            raise Conflict(f"the ticket is at the last tier ({current.name})", code="last_tier")
        target = path.tiers[here + 1]
    else:
        target = next((t for t in path.tiers if t.key == to), None)
        if target is None:
            raise ValidationFailed(f"no tier {to!r} in {path.key}", field="to")
        if path.index(target.key) <= here:
            raise Conflict(f"{target.name} is not above {current.name}", code="not_above")
    fields: dict[str, Any] = {"team": target.team, "assignee": None}
    if target.department != ctx.ticket.department_id:
        fields["department"] = target.department
    ctx.change(author=author, fields=fields)
    data = {"path": path.key, "from": current.key, "to": target.key, "reason": reason}
    _record(ctx, author, "escalated", data)
    ticket, now = ctx.ticket, ctx.now

    def save() -> None:
        TicketTier.objects.update_or_create(
            ticket=ticket,
            defaults={"path_id": path.id, "tier": target.key, "entered_at": now},
        )
        TicketTier.objects.filter(ticket=ticket).update(escalations=F("escalations") + 1)

    ctx.after_write(save)
    return target


def escalation_effect(ctx: Context, *, reason: str, to: str | None, author: Author) -> None:
    """An `escalate_tier` action of automation: a refusal is recorded, the change stands."""
    try:
        escalate_in_change(ctx, reason=reason, to=to, author=author)
    except DomainError as exc:
        _record(ctx, author, "escalation_refused", {"reason": reason, "refused": str(exc)})


def _record(ctx: Context, author: Author, field: str, data: dict[str, Any]) -> None:
    ctx.record(EventKind.TIER, field, new=data, actor=author.actor, cause=author.cause)


def ticket_escalate(
    *, actor: User, ticket_id: int, reason: Any, to: Any = None, via: Via = Via.API, now: datetime
) -> Any:
    """An agent escalates a ticket to the next tier (or `to`), with a reason."""
    from sportello.tickets import pipeline
    from sportello.tickets.services import actor_for

    if not isinstance(actor, User) or not actor.is_active:
        raise PermissionDenied("only agents escalate tickets")
    if not isinstance(reason, str):
        raise ValidationFailed("a reason is required", field="reason")
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=True)
    if to is not None and not isinstance(to, str):
        raise ValidationFailed("must be a tier key", field="to")
    if actor.role == Role.LIGHT_AGENT:
        raise PermissionDenied("light agents cannot escalate tickets")
    who = actor_for(actor)
    author = pipeline.Author(actor=who, cause="tier escalation")

    def escalate(ctx: Context) -> None:
        escalate_in_change(ctx, reason=reason, to=to, author=author)

    mutation = pipeline.Mutation(actor=who, via=via, cause="tier escalation", automation=escalate)
    return pipeline.ticket_apply(ticket_id=ticket_id, mutation=mutation, now=now)
