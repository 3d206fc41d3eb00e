"""What a contact merge moves, registered by the apps that hold it.

Contacts sit below the apps that point at them (tickets and their messages, …), so the merge
(`services.contact_merge`) does not know those models: each app registers, for every foreign key
of its own to `Contact`, a `ContactReference` saying how many rows a contact has there and how a
merge moves them to the target (with the audit the app keeps), from its `AppConfig.ready`.
`unhandled()` names every foreign key to `Contact` (found through the model's `_meta`) that no
app registered; the merge refuses to run while there is one, and a test keeps it empty, so a new
foreign key to `Contact` cannot be forgotten.

`fields_to_fill` is the rest of a merge: the target's empty fields that the source fills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model

from sportello.accounts.models import User
from sportello.core.actors import Via

from .models import Contact

# A field at this value is "empty" for a merge: the default every new contact gets.
DEFAULTS: dict[str, Any] = {"language": "en", "time_zone": "UTC"}
FILLED = ("name", "email", "phone", "organization", "language", "time_zone", "vip")


@dataclass(frozen=True, slots=True)
class Move:
    """One merge, as the movers see it: both contacts locked, nothing deleted yet."""

    source: Contact
    target: Contact
    actor: User | None
    via: Via
    now: datetime


@dataclass(frozen=True, slots=True)
class ContactReference:
    """Rows of `model` pointing at a contact through `field`: `count(contact_id)` of them, shown
    as `describe(n)` ("3 tickets"); `move(m)` points the source's at the target and returns how
    many it moved."""

    model: type[Model]
    field: str
    count: Callable[[int], int]
    move: Callable[[Move], int]
    describe: Callable[[int], str]
    rank: int = 100  # where it is listed among what a merge moves (lowest first)

    @property
    def key(self) -> str:
        return f"{self.model._meta.label}.{self.field}"


_REFERENCES: dict[str, ContactReference] = {}


def register_reference(reference: ContactReference) -> None:
    """Register how a merge moves one foreign key to `Contact` (once per key)."""
    _REFERENCES[reference.key] = reference


def foreign_keys() -> list[str]:
    """Every foreign key to `Contact`, `app_label.Model.field`, hidden ones (`related_name="+"`)
    included."""
    keys = []
    for rel in Contact._meta.get_fields(include_hidden=True):
        if rel.auto_created and not rel.concrete and rel.related_model is not None:
            field = getattr(rel, "field", None)
            if field is not None:
                keys.append(f"{rel.related_model._meta.label}.{field.name}")
    return sorted(keys)


def unhandled() -> list[str]:
    """The foreign keys to `Contact` no app registered a mover for."""
    return [key for key in foreign_keys() if key not in _REFERENCES]


def references() -> list[ContactReference]:
    """The registered references, by rank, then key."""
    found = [_REFERENCES[key] for key in foreign_keys() if key in _REFERENCES]
    return sorted(found, key=lambda ref: (ref.rank, ref.key))


def fields_to_fill(source: Contact, target: Contact) -> dict[str, Any]:
    """The target's empty fields the source has a value for, with that value (the organization
    as its id). A VIP source makes the target a VIP."""
    out: dict[str, Any] = {}
    for name in FILLED:
        if name == "organization":
            if target.organization_id is None and source.organization_id is not None:
                out[name] = source.organization_id
            continue
        if name == "vip":
            if source.vip and not target.vip:
                out[name] = True
            continue
        empty = DEFAULTS.get(name, "")
        mine, theirs = getattr(target, name), getattr(source, name)
        if mine == empty and theirs != empty and theirs:
            out[name] = theirs
    return out
