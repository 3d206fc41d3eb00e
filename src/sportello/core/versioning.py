"""One versioned configuration: what admins configure is a head row and immutable versions.

Every configuration kind — event and time rules, macros, assignment policies, SLA policies,
business calendars, blueprints, notification templates, tier paths — is a head row (`ConfigHead`:
what lists and the hot paths read, `active`, the number of its current `version`, `updated_at`)
and one immutable version row per saved definition (`ConfigVersion`). Each kind registers a
`ConfigKind` (`register_kind`) naming its tables and the few things that differ between kinds;
everything else is done once, here:

- `version_save`: lock the head by key, compare the definition (and the active flag) with the
  current version, and when something changed bump the version, save the head and insert the
  new version — or write nothing. A kind's own save validates and normalises first, then calls
  it (and does its own side effects after: reflow, re-arming timers).
- `version_deactivate`: a kind whose definition carries `active` saves a new version with
  `active: false`; the others clear the head's flag (the history is untouched).
- `version_list`, `version_get`, `version_diff(kind, key, a, b)` (added, removed and changed
  paths, with old and new values) and `version_revert(kind, key, n, ...)`: a new version equal
  to version n, saved through the kind's own save (so it is validated and has the side effects
  of any save); reverting to a definition equal to the current one writes nothing.

Concurrent saves of one key serialise on the head's row lock; two creations of a new key race
on its unique constraint, and the loser gets a 409 (`Conflict`) instead of a server error.

What the hot paths read of a kind is cached per process in `core.config` (one cache under the
kinds' signatures, one `forget_all`); the API's history operations are `core.versions_api`.
Adding a kind: a head model on `ConfigHead`, a version model on `DefinitionVersion` (or
`ConfigVersion`), a save that validates and calls `version_save`, `register_kind(...)`, and the
history routes (`core.versions_api.history_routes`) in the kind's API module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q

from .errors import Conflict, NotFound

# -- models ----------------------------------------------------------------------------------------


class ConfigHead(models.Model):
    """A configured thing's head row: active or not, the number of its current version."""

    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)  # the current version's number
    updated_at = models.DateTimeField()

    class Meta:
        abstract = True


class ConfigVersion(models.Model):
    """One saved definition. Immutable: nothing updates a version row."""

    version = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        abstract = True


class DefinitionVersion(ConfigVersion):
    """A version holding its definition as one document (the kind's schema, normalised)."""

    definition = models.JSONField()

    class Meta:
        abstract = True


# -- kinds -----------------------------------------------------------------------------------------

Definition = dict[str, Any]


def _key_lookup(key: str) -> dict[str, Any]:
    return {"key": key}


def _stored_definition(row: Any) -> Definition:
    return row.definition


def _as_definition(item: Definition) -> dict[str, Any]:
    return {"definition": item}


def _no_head_fields(item: Definition) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class ConfigKind:
    """What differs between configuration kinds.

    `name`: the registry's key; `label`: the kind in messages ("rule not found"). `parent`: the
    version row's foreign key to its head (`rule`, `policy`, ...); None when versions are keyed
    by the head's own key columns and outlive it (notification templates). `save(key, head,
    definition, actor, now)`: the kind's own save (validation, side effects), through which a
    revert — and a deactivation that is a new version — goes. `lookup`: the head's (and such
    versions') key columns for a key. `head_fields`: the head's columns written from a
    definition. `version_fields` / `definition_of`: a definition as version columns and back.
    `active_in_definition`: the definition carries `active` (a deactivation is a new version).
    `version_on_reactivate`: saving an inactive head with its current definition writes a new
    version (else only the head changes). `head_holds_definition`: the head keeps the current
    definition too (`definition_of` reads it from the head as from a version, and `head_fields`
    writes it), so comparing costs no query. `signature`: the name of its signature
    (`core.config`) when its parsed form is cached. `conflict_code`, `conflict_message`: the
    error of a lost race to create a new key.
    """

    name: str
    label: str
    head: type[Any]
    version: type[Any]
    parent: str | None
    save: Callable[[str, Any, Definition, Any, datetime], tuple[Any, bool]]
    lookup: Callable[[str], dict[str, Any]] = _key_lookup
    head_fields: Callable[[Definition], dict[str, Any]] = _no_head_fields
    version_fields: Callable[[Definition], dict[str, Any]] = _as_definition
    definition_of: Callable[[Any], Definition] = _stored_definition
    active_in_definition: bool = False
    version_on_reactivate: bool = True
    head_holds_definition: bool = False
    signature: str | None = None
    conflict_code: str = "conflict"
    conflict_message: str = ""

    def not_found(self) -> NotFound:
        return NotFound(f"{self.label} not found")

    def versions_of(self, head: Any, key: str) -> models.QuerySet[Any]:
        if self.parent is None:
            return self.version.objects.filter(**self.lookup(key))
        return self.version.objects.filter(**{self.parent: head})


_KINDS: dict[str, ConfigKind] = {}


def register_kind(kind: ConfigKind) -> ConfigKind:
    """Make `kind` known by its name. (A kind whose parsed form is cached also registers the
    table of its heads as its signature, `core.config.register_signature`, when its app is
    ready.)"""
    _KINDS[kind.name] = kind
    return kind


def config_kind(kind: ConfigKind | str) -> ConfigKind:
    if isinstance(kind, ConfigKind):
        return kind
    found = _KINDS.get(kind)
    if found is None:
        raise NotFound(f"no configuration kind {kind!r}")
    return found


def config_kinds() -> dict[str, ConfigKind]:
    """Every registered kind by name."""
    return dict(_KINDS)


# -- saving --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saved:
    head: Any
    written: bool  # anything was written
    versioned: bool = False  # a new version row was inserted


class _Unset:
    pass


UNSET: Any = _Unset()


def version_lock(kind: ConfigKind | str, key: str, *, required: bool = False) -> Any:
    """The head of `key`, locked for the rest of the transaction; None (or NotFound when
    `required`) when there is none."""
    kind = config_kind(kind)
    head = kind.head.objects.select_for_update().filter(**kind.lookup(key)).first()
    if head is None and required:
        raise kind.not_found()
    return head


def version_current(kind: ConfigKind | str, head: Any, key: str) -> Definition | None:
    """The definition of the head's current version (None: no head, or no such row)."""
    kind = config_kind(kind)
    if head is None or head.pk is None:
        return None
    if kind.head_holds_definition:
        return kind.definition_of(head)
    row = kind.versions_of(head, key).filter(version=head.version).first()
    return None if row is None else kind.definition_of(row)


def version_save(
    kind: ConfigKind | str,
    *,
    key: str,
    definition: Definition,
    created_by: Any,
    now: datetime,
    active: bool | None = None,
    head: Any = UNSET,
    current: Any = UNSET,
    fields: Mapping[str, Any] | None = None,
    touched: bool = False,
) -> Saved:
    """Save `definition` (validated and normalised by the kind) as the head `key`'s next
    version: the head is locked (or given, already locked), and nothing is written when the
    definition equals the current version's and the head's `active` is already `active`
    (default: the definition's own `active` for kinds that carry it, else True) — unless the
    caller `touched` other columns of the head. `fields`: more head columns to write. A head
    whose definition did not change gets no new version (only its row is saved) unless it is
    reactivated and its kind versions reactivations. Runs in the caller's transaction (the
    lock needs one)."""
    kind = config_kind(kind)
    if head is UNSET:
        head = version_lock(kind, key)
    if current is UNSET:
        current = version_current(kind, head, key)
    if active is None:
        active = bool(definition.get("active", True)) if kind.active_in_definition else True
    changed = head is None or current != definition
    if not changed and head.active == active and not touched:
        return Saved(head, False, False)
    versioned = changed or (kind.version_on_reactivate and not head.active and active)
    new = head is None
    if new:
        head = kind.head(**kind.lookup(key), version=0)
        if hasattr(head, "created_at"):
            head.created_at = now
    for name, value in {**kind.head_fields(definition), **(fields or {})}.items():
        setattr(head, name, value)
    head.active = active
    head.updated_at = now
    if versioned:
        head.version = _next_version(kind, head, key)
    try:
        with transaction.atomic() if new else nullcontext():
            head.save()
            if versioned:
                kind.version.objects.create(
                    **({kind.parent: head} if kind.parent is not None else kind.lookup(key)),
                    version=head.version,
                    created_by=created_by,
                    created_at=now,
                    **kind.version_fields(definition),
                )
    except IntegrityError:
        if not new:
            raise
        message = (
            kind.conflict_message or f"the {kind.label} was saved at the same time; reload and try again"
        )
        raise Conflict(message, code=kind.conflict_code) from None
    return Saved(head, True, versioned)


def _next_version(kind: ConfigKind, head: Any, key: str) -> int:
    if kind.parent is None:
        # Versions outlive their head: a new head continues their numbering.
        latest = kind.versions_of(head, key).aggregate(v=Max("version"))["v"] or 0
        return max(latest, head.version) + 1
    return int(head.version) + 1


def version_deactivate(
    kind: ConfigKind | str,
    *,
    key: str,
    created_by: Any,
    now: datetime,
    head: Any = UNSET,
    fields: Mapping[str, Any] | None = None,
) -> Saved:
    """Stop `key` from applying, its history kept. A kind whose definition carries `active`
    saves a new version with `active: false` (through its own save); the others clear the head's
    flag (and write `fields` with it). Already inactive: nothing written. NotFound when missing."""
    kind = config_kind(kind)
    if head is UNSET:
        head = version_lock(kind, key, required=True)
    if kind.active_in_definition:
        current = version_current(kind, head, key)
        if current is None:
            raise kind.not_found()
        saved, written = kind.save(key, head, {**current, "active": False}, created_by, now)
        return Saved(saved, written, written)
    if not head.active:
        return Saved(head, False, False)
    head.active = False
    head.updated_at = now
    for name, value in (fields or {}).items():
        setattr(head, name, value)
    head.save(update_fields=["active", "updated_at", *(fields or {})])
    return Saved(head, True, False)


# -- reading, comparing, reverting ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: datetime
    created_by_id: int | None
    definition: Definition


def _head(kind: ConfigKind, key: str) -> Any:
    """The head of `key` (NotFound when missing), when its versions hang from it; else None
    (versions keyed like their head are read by the key alone)."""
    if kind.parent is None:
        return None
    head = kind.head.objects.filter(**kind.lookup(key)).first()
    if head is None:
        raise kind.not_found()
    return head


def _info(kind: ConfigKind, row: Any) -> VersionInfo:
    return VersionInfo(row.version, row.created_at, row.created_by_id, kind.definition_of(row))


def version_list(kind: ConfigKind | str, *, key: str) -> list[VersionInfo]:
    """Every saved version of `key`, newest first (two queries). NotFound when `key` has none."""
    kind = config_kind(kind)
    head = _head(kind, key)
    rows = [_info(kind, row) for row in kind.versions_of(head, key).order_by("-version")]
    if kind.parent is None and not rows:
        raise kind.not_found()
    return rows


def version_get(kind: ConfigKind | str, *, key: str, version: int) -> VersionInfo:
    """Version `version` of `key` (NotFound when the head or the version is missing)."""
    kind = config_kind(kind)
    head = _head(kind, key)
    row = kind.versions_of(head, key).filter(version=version).first()
    if row is None:
        raise NotFound(f"no version {version} of this {kind.label}")
    return _info(kind, row)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two definitions: the path (`when.all[2].value`), whether it was
    `added`, `removed` or `changed`, and the values before and after (None when absent)."""

    path: str
    change: str
    old: Any = None
    new: Any = None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def definition_diff(a: Any, b: Any, path: str = "") -> list[Change]:
    """The differences from `a` to `b` (JSON data), as paths: objects compared key by key (in
    sorted order), lists index by index (items past the shorter list are added or removed);
    anything else that differs — a value, or its type — is changed as a whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[Change] = []
        for name in sorted(set(a) | set(b), key=str):
            where = _join(path, str(name))
            if name not in b:
                out.append(Change(where, "removed", old=a[name]))
            elif name not in a:
                out.append(Change(where, "added", new=b[name]))
            else:
                out.extend(definition_diff(a[name], b[name], where))
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            where = f"{path}[{i}]"
            if i >= len(b):
                out.append(Change(where, "removed", old=a[i]))
            elif i >= len(a):
                out.append(Change(where, "added", new=b[i]))
            else:
                out.extend(definition_diff(a[i], b[i], where))
        return out
    if type(a) is type(b) and a == b:
        return []
    return [Change(path, "changed", old=a, new=b)]


def version_diff(kind: ConfigKind | str, *, key: str, a: int, b: int) -> list[Change]:
    """What changed from version `a` of `key` to version `b` (one query for both)."""
    kind = config_kind(kind)
    head = _head(kind, key)
    # Two exact lookups, not `in`: a number past the column's range then matches nothing.
    rows = {r.version: r for r in kind.versions_of(head, key).filter(Q(version=a) | Q(version=b))}
    for n in (a, b):
        if n not in rows:
            raise NotFound(f"no version {n} of this {kind.label}")
    return definition_diff(kind.definition_of(rows[a]), kind.definition_of(rows[b]))


@transaction.atomic
def version_revert(kind: ConfigKind | str, *, key: str, version: int, actor: Any, now: datetime) -> Saved:
    """A new version of `key` equal to its version `version`, saved through the kind's own save
    (validated again, with the side effects of any save). A definition equal to the current
    one writes nothing."""
    kind = config_kind(kind)
    head = version_lock(kind, key, required=kind.parent is not None)
    row = kind.versions_of(head, key).filter(version=version).first()
    if row is None:
        raise NotFound(f"no version {version} of this {kind.label}")
    target = kind.definition_of(row)
    if head is not None and version_current(kind, head, key) == target:
        return Saved(head, False, False)
    saved, written = kind.save(key, head, target, actor, now)
    return Saved(saved, written, written)
