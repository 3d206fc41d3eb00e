"""The history of configuration as people read it (the Console): one configured thing's versions
with who saved each, two of its versions side by side, every change across every kind newest
first, and "restore this version" guarded against a save made meanwhile.

Generic over every registered kind (`core.versioning.config_kinds()`): a kind's key columns are
those of its `lookup` (a template's `key` and `language`, joined by "/"), its name its head's
`name` when it has one, else its key. Reading costs a fixed number of statements whatever the
number of kinds, versions or authors: the changes across kinds are one UNION query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import models, transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Concat

from . import clock, paging
from .errors import Conflict, NotFound
from .models import ConfigSnapshot
from .snapshots import (
    SnapshotHead,
    SnapshotKind,
    snapshot_baseline,
    snapshot_kind,
    snapshot_kinds,
    snapshot_rows,
)
from .versioning import (
    ConfigKind,
    Definition,
    Saved,
    config_kind,
    config_kinds,
    definition_diff,
    version_current,
    version_lock,
    version_revert,
)

# -- one thing's history -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version:
    """One saved version as listed: its number, when, who (None: nobody, or an agent since
    removed), and the author's name and e-mail address when known."""

    version: int
    created_at: datetime
    created_by_id: int | None
    author_name: str
    author_email: str


@dataclass(frozen=True, slots=True)
class History:
    """A configured thing: its kind, key, name, the number of its current version (None: no
    head, e.g. a notification template back to its shipped default), whether it applies, and
    its versions newest first."""

    kind: ConfigKind | SnapshotKind
    key: str
    name: str
    current: int | None
    active: bool | None
    versions: list[Version]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two versions of one thing (`a` first), their definitions and the changes from a to b."""

    history: History
    a: Version
    b: Version
    old: Definition
    new: Definition
    changes: list[Any]


def _has_name(kind: ConfigKind) -> bool:
    return any(f.name == "name" for f in kind.head._meta.get_fields())


def _version(row: Any) -> Version:
    author = row.created_by
    return Version(
        row.version,
        row.created_at,
        row.created_by_id,
        (author.name or "") if author is not None else "",
        (author.email or "") if author is not None else "",
    )


def _thing(kind: ConfigKind, key: str) -> Any:
    """The head of `key` (None when it has none and its versions outlive it); NotFound when a
    kind whose versions hang from their head has no such head."""
    head = kind.head.objects.filter(**kind.lookup(key)).first()
    if head is None and kind.parent is not None:
        raise kind.not_found()
    return head


def _history(kind: ConfigKind, key: str, head: Any, rows: list[Any]) -> History:
    name = getattr(head, "name", "") if head is not None and _has_name(kind) else ""
    return History(
        kind=kind,
        key=key,
        name=name or key,
        current=None if head is None else int(head.version),
        active=None if head is None else bool(head.active),
        versions=[_version(r) for r in rows],
    )


def _snapshot_head(kind: SnapshotKind, latest: ConfigSnapshot) -> SnapshotHead:
    definition = latest.definition if isinstance(latest.definition, dict) else {}
    return SnapshotHead(latest.version, bool(definition.get("active", True)), latest.name or latest.key)


def _snapshot_history(kind: SnapshotKind, key: str) -> History:
    def read() -> list[ConfigSnapshot]:
        return list(
            snapshot_rows(kind.name, key)
            .select_related("created_by")
            .order_by("-version")
            .only(
                "version", "created_at", "name", "key", "definition", "created_by__name", "created_by__email"
            )
        )

    rows = read()
    if not rows:  # a thing never changed since it has a history: its version 1 is what it is
        if snapshot_baseline(kind.name, key, now=clock.now()) is None:
            raise kind.not_found()
        rows = read()
    head = _snapshot_head(kind, rows[0])
    return History(kind, key, head.name, head.version, head.active, [_version(r) for r in rows])


def config_history(kind: ConfigKind | str, *, key: str) -> History:
    """The versions of `key`, newest first, with their authors (two queries; one for a kind
    recorded as snapshots, `core.snapshots`). NotFound for an unknown kind or a key with no
    versions."""
    if isinstance(kind, str) and (snap := snapshot_kind(kind)) is not None:
        return _snapshot_history(snap, key)
    kind = config_kind(kind)
    head = _thing(kind, key)
    rows = list(
        kind.versions_of(head, key)
        .select_related("created_by")
        .order_by("-version")
        .only("version", "created_at", "created_by__name", "created_by__email")
    )
    if not rows:
        raise kind.not_found()
    return _history(kind, key, head, rows)


def config_compare(kind: ConfigKind | str, *, key: str, a: int, b: int) -> Comparison:
    """Versions `a` and `b` of `key` with what changed from a to b (two queries). NotFound when
    either version is missing."""
    if isinstance(kind, str) and (snap := snapshot_kind(kind)) is not None:
        return _snapshot_compare(snap, key, a, b)
    kind = config_kind(kind)
    head = _thing(kind, key)
    # Two exact lookups, not `in`: a number past the column's range then matches nothing.
    found = {
        r.version: r
        for r in kind.versions_of(head, key).select_related("created_by").filter(Q(version=a) | Q(version=b))
    }
    for n in (a, b):
        if n not in found:
            raise NotFound(f"no version {n} of this {kind.label}")
    old, new = kind.definition_of(found[a]), kind.definition_of(found[b])
    history = _history(kind, key, head, [])
    return Comparison(history, _version(found[a]), _version(found[b]), old, new, definition_diff(old, new))


def _snapshot_compare(kind: SnapshotKind, key: str, a: int, b: int) -> Comparison:
    rows = list(
        snapshot_rows(kind.name, key).select_related("created_by").filter(Q(version=a) | Q(version=b))
    )
    latest = snapshot_rows(kind.name, key).order_by("-version").first()
    found = {r.version: r for r in rows}
    for n in (a, b):
        if n not in found or latest is None:
            raise NotFound(f"no version {n} of this {kind.label}")
    assert latest is not None
    head = _snapshot_head(kind, latest)
    old, new = found[a].definition, found[b].definition
    history = History(kind, key, head.name, head.version, head.active, [])
    return Comparison(history, _version(found[a]), _version(found[b]), old, new, definition_diff(old, new))


def _snapshot_restore(
    kind: SnapshotKind, key: str, version: int, actor: Any, now: datetime, seen: int | None
) -> Saved:
    if kind.lock(key) is None:
        raise kind.not_found()
    rows = snapshot_rows(kind.name, key)
    latest = rows.order_by("-version").first()
    target = rows.filter(version=version).first()
    if latest is None or target is None:
        raise NotFound(f"no version {version} of this {kind.label}")
    found = kind.read(key)
    current = found[1] if found is not None else None
    if current == target.definition:
        return Saved(_snapshot_head(kind, latest), False, False)
    if seen is not None and latest.version != seen:
        raise Conflict(f"version {latest.version} of this {kind.label} was saved meanwhile", code="stale")
    kind.apply(key, target.definition, actor, now)
    newest = rows.order_by("-version").first()
    assert newest is not None
    return Saved(_snapshot_head(kind, newest), True, newest.version != latest.version)


@transaction.atomic
def version_restore(
    kind: ConfigKind | str, *, key: str, version: int, actor: Any, now: datetime, seen: int | None = None
) -> Saved:
    """Version `version` of `key` made current again (`version_revert`: a new version equal to
    it, through the kind's own save; nothing written when it is the current definition already).
    `seen`: the current version the person confirming was shown; when another was saved since
    and the definition in force is not the one restored, Conflict (code `stale`) and nothing is
    written, so that they confirm again against what is now current. Admins only (the caller
    checks, as the API's `may_revert` does). A kind recorded as snapshots applies the old
    definition through its own services (`SnapshotKind.apply`), which record the new version."""
    if isinstance(kind, str) and (snap := snapshot_kind(kind)) is not None:
        return _snapshot_restore(snap, key, version, actor, now, seen)
    kind = config_kind(kind)
    head = version_lock(kind, key, required=kind.parent is not None)
    if seen is not None and head is not None and head.version != seen:
        row = kind.versions_of(head, key).filter(version=version).first()
        if row is None:
            raise NotFound(f"no version {version} of this {kind.label}")
        if version_current(kind, head, key) != kind.definition_of(row):
            raise Conflict(f"version {head.version} of this {kind.label} was saved meanwhile", code="stale")
    return version_revert(kind, key=key, version=version, actor=actor, now=now)


# -- every change across kinds -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One saved version of any configured thing, as the audit log lists it."""

    pk: int  # the version row's id (in its kind's table)
    kind_name: str
    key: str
    name: str
    version: int
    created_at: datetime
    created_by_id: int | None
    author_name: str
    author_email: str

    @property
    def previous(self) -> int | None:
        return self.version - 1 if self.version > 1 else None


CHANGE_KEYS = [
    paging.SortKey("created_at", descending=True, kind="datetime"),
    paging.SortKey("kind_name", descending=True, kind="str"),
    paging.SortKey("id", descending=True),
]
_COLUMNS = (
    "id",
    "version",
    "created_at",
    "created_by_id",
    "kind_name",
    "thing_key",
    "thing_name",
    "author_name",
    "author_email",
)


def _key_columns(kind: ConfigKind) -> list[str]:
    # The columns a key is looked up by, in order: a key made of several is joined by "/".
    return list(kind.lookup("a/b"))


def _changes_of(kind: ConfigKind) -> models.QuerySet[Any]:
    prefix = f"{kind.parent}__" if kind.parent is not None else ""
    columns = _key_columns(kind)
    parts: list[Any] = []
    for i, column in enumerate(columns):
        if i:
            parts.append(Value("/"))
        parts.append(F(f"{prefix}{column}"))
    text = CharField()
    key: Any = Concat(*parts, output_field=text) if len(parts) > 1 else F(f"{prefix}{columns[0]}")
    name: Any = F(f"{prefix}name") if kind.parent is not None and _has_name(kind) else key
    return kind.version.objects.annotate(
        kind_name=Value(kind.name, output_field=text),
        thing_key=key,
        thing_name=name,
        author_name=F("created_by__name"),
        author_email=F("created_by__email"),
    )


def _snapshot_changes(names: list[str]) -> models.QuerySet[Any]:
    return ConfigSnapshot.objects.filter(kind__in=names).annotate(
        kind_name=F("kind"),
        thing_key=F("key"),
        thing_name=F("name"),
        author_name=F("created_by__name"),
        author_email=F("created_by__email"),
    )


def config_changes(
    *, kind: str | None = None, author_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[ConfigChange], str | None]:
    """Every saved version of every configured thing (of `kind` only; by `author_id` only),
    newest first, `limit` after `cursor`, and the next page's cursor (None on the last). One
    query whatever the number of kinds (the kinds recorded as snapshots are one part of it).
    NotFound for an unknown kind; ValidationFailed (field `cursor`) for a cursor of another
    listing."""
    snapshots = snapshot_kinds()
    if kind and kind in snapshots:
        kinds, snapped = [], [kind]
    else:
        kinds = [config_kind(kind)] if kind else list(config_kinds().values())
        snapped = [] if kind else sorted(snapshots)
    parts = []
    if snapped:
        qs = _snapshot_changes(snapped)
        if author_id is not None:
            qs = qs.filter(created_by_id=author_id)
        qs = paging.after_cursor(qs, keys=CHANGE_KEYS, cursor=cursor)
        parts.append(qs.order_by().values(*_COLUMNS))
    for k in kinds:
        qs = _changes_of(k)
        if author_id is not None:
            qs = qs.filter(created_by_id=author_id)
        qs = paging.after_cursor(qs, keys=CHANGE_KEYS, cursor=cursor)
        parts.append(qs.order_by().values(*_COLUMNS))
    if not parts:
        return [], None
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    rows = combined.order_by(*paging.order_terms(CHANGE_KEYS))[: limit + 1]
    changes = [
        ConfigChange(
            pk=r["id"],
            kind_name=r["kind_name"],
            key=r["thing_key"],
            name=r["thing_name"] or r["thing_key"],
            version=r["version"],
            created_at=r["created_at"],
            created_by_id=r["created_by_id"],
            author_name=r["author_name"] or "",
            author_email=r["author_email"] or "",
        )
        for r in rows
    ]
    return cast(
        tuple[list[ConfigChange], str | None],
        paging.page_of(cast(list[Any], changes), keys=CHANGE_KEYS, limit=limit),
    )
