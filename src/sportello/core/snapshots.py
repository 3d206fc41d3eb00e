"""History for configuration that has no version table of its own: departments, statuses,
custom fields, layouts, canned responses, agents and teams keep their rows as they are, and each
change appends the thing's whole definition, as a document, to one table (`ConfigSnapshot`).

A kind registers a `SnapshotKind` (`register_snapshot_kind`): how to lock a thing by its key,
how to read its definition (the same document the configuration export writes) and its name,
and how to apply an old definition again through the kind's own services (a restore). A
service that changes such a thing wraps its writes in `recording(kind, key, actor, now)`:

- on entry the thing is locked (`lock`), so that two concurrent changes of one thing serialise
  and their versions are consecutive, and — the first time a thing that existed before its
  history changes — its definition as it was is recorded as version 1, by nobody;
- on a clean exit its definition is read again and appended as the next version, only when it
  differs from the latest one (a save that changes nothing writes nothing).

`snapshot_record` does the second half alone, after a creation by someone (a thing the system
creates — set-up, demo data — starts its history at its first change). A thing's history is
never empty: a thing with none yet gets its version 1 (by nobody, as it is) when its history is
first read (`snapshot_baseline`), or when it first changes, before the change.

`core.history` reads, compares and restores these kinds as it does the
versioned ones, and its audit log reads them with one more part of its one UNION query whatever
the number of snapshot kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from .errors import NotFound
from .models import ConfigSnapshot

Definition = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SnapshotKind:
    """A configuration kind recorded as snapshots.

    `name`: its registered name (the `kind` column); `label`: the kind in messages.
    `lock(key)`: lock the thing for the transaction (None when it does not exist).
    `read(key)`: its current (name, definition), None when it does not exist.
    `existing()`: every existing thing's key (what the backfill records).
    `apply(key, definition, actor, now)`: make the thing equal to `definition` again through the
    kind's services (validated as any save; they record the new version).
    """

    name: str
    label: str
    lock: Callable[[str], Any]
    read: Callable[[str], tuple[str, Definition] | None]
    existing: Callable[[], list[str]]
    apply: Callable[[str, Definition, Any, datetime], None]

    def not_found(self) -> NotFound:
        return NotFound(f"{self.label} not found")


_KINDS: dict[str, SnapshotKind] = {}


def register_snapshot_kind(kind: SnapshotKind) -> SnapshotKind:
    _KINDS[kind.name] = kind
    return kind


def snapshot_kinds() -> dict[str, SnapshotKind]:
    """Every registered snapshot kind by name."""
    return dict(_KINDS)


def snapshot_kind(name: str) -> SnapshotKind | None:
    return _KINDS.get(name)


def _latest(kind: str, key: str) -> ConfigSnapshot | None:
    return ConfigSnapshot.objects.filter(kind=kind, key=key).order_by("-version").first()


def _append(
    kind: SnapshotKind, key: str, latest: ConfigSnapshot | None, actor: Any, now: datetime
) -> ConfigSnapshot | None:
    found = kind.read(key)
    if found is None:
        return None
    name, definition = found
    if latest is not None and latest.definition == definition:
        return None
    return ConfigSnapshot.objects.create(
        kind=kind.name,
        key=key,
        name=name[:200],
        version=(latest.version if latest is not None else 0) + 1,
        definition=definition,
        created_by=actor if getattr(actor, "pk", None) is not None else None,
        created_at=now,
    )


def snapshot_record(kind_name: str, key: str, *, actor: Any, now: datetime) -> ConfigSnapshot | None:
    """Append the thing's current definition as its next version when it differs from the
    latest one (the thing locked first); the row written, or None. In the caller's transaction.
    A creation by the system (`actor` None) records nothing: its history starts later."""
    kind = _KINDS[kind_name]
    if actor is None:
        return None
    with transaction.atomic():
        kind.lock(key)
        return _append(kind, key, _latest(kind.name, key), actor, now)


@contextmanager
def recording(kind_name: str, key: str, *, actor: Any, now: datetime) -> Iterator[None]:
    """Wrap a change of one existing thing: lock it and record what it was when it has no
    history yet (version 1, by nobody); after the block, record what it has become."""
    kind = _KINDS[kind_name]
    with transaction.atomic():
        kind.lock(key)
        latest = _latest(kind.name, key)
        if latest is None:
            latest = _append(kind, key, None, None, now)
        yield
        _append(kind, key, latest, actor, now)


def snapshot_baseline(kind_name: str, key: str, *, now: datetime) -> ConfigSnapshot | None:
    """Version 1 of a thing that exists and has no history yet (by nobody, as it is now); None
    when it has a history already or does not exist."""
    kind = _KINDS[kind_name]
    with transaction.atomic():
        if kind.lock(key) is None or _latest(kind.name, key) is not None:
            return None
        return _append(kind, key, None, None, now)


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnapshotHead:
    """What `core.history` needs of a snapshot-recorded thing: its current version and whether
    it applies (a definition's `active`, True when it has none)."""

    version: int
    active: bool
    name: str


def snapshot_rows(kind_name: str, key: str) -> Any:
    return ConfigSnapshot.objects.filter(kind=kind_name, key=key)
