"""The history of a configured thing over the API, the same for every kind (`core.versioning`):
`GET …/{key}/versions` (newest first), `GET …/{key}/versions/{n}` (the definition),
`GET …/{key}/versions/{a}/diff/{b}` (what changed from a to b) and `POST …/{key}/revert`
(`{"version": n}`: a new version equal to version n).

Each kind's API module declares the routes under its own paths, checks who may read or write
as for its other operations, and answers with these schemas and helpers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field, StrictInt

from . import clock
from .versioning import ConfigKind, version_diff, version_get, version_list, version_revert


class ConfigVersionItem(Schema):
    version: int
    created_at: datetime
    created_by_id: int | None


class ConfigVersionPage(Schema):
    items: list[ConfigVersionItem]


class ConfigVersionOut(Schema):
    version: int
    created_at: datetime
    created_by_id: int | None
    definition: dict[str, Any]


class ConfigChangeOut(Schema):
    path: str = Field(description="where in the definition, e.g. `when.all[2].value`; empty: the whole")
    change: str = Field(description="`added`, `removed` or `changed`")
    old: Any = Field(default=None, description="the value in the first version (absent when added)")
    new: Any = Field(default=None, description="the value in the second version (absent when removed)")


class ConfigDiffOut(Schema):
    from_version: int
    to_version: int
    changes: list[ConfigChangeOut]


class ConfigRevertIn(Schema):
    model_config = ConfigDict(extra="forbid")

    version: StrictInt = Field(ge=1, description="the version whose definition becomes the current one again")


class ConfigRevertOut(Schema):
    version: int = Field(description="the current version after the revert")
    written: bool = Field(description="false: the definition already equalled that version's")
    definition: dict[str, Any]


def versions_out(kind: ConfigKind, key: str) -> dict[str, Any]:
    return {
        "items": [
            {"version": v.version, "created_at": v.created_at, "created_by_id": v.created_by_id}
            for v in version_list(kind, key=key)
        ]
    }


def version_out(kind: ConfigKind, key: str, version: int) -> dict[str, Any]:
    v = version_get(kind, key=key, version=version)
    return {
        "version": v.version,
        "created_at": v.created_at,
        "created_by_id": v.created_by_id,
        "definition": v.definition,
    }


def diff_out(kind: ConfigKind, key: str, a: int, b: int) -> dict[str, Any]:
    changes = version_diff(kind, key=key, a=a, b=b)
    return {
        "from_version": a,
        "to_version": b,
        "changes": [{"path": c.path, "change": c.change, "old": c.old, "new": c.new} for c in changes],
    }


def revert_out(kind: ConfigKind, key: str, payload: ConfigRevertIn, actor: Any) -> dict[str, Any]:
    saved = version_revert(kind, key=key, version=payload.version, actor=actor, now=clock.now())
    head = saved.head
    if kind.head_holds_definition:
        definition = kind.definition_of(head)
    else:
        definition = version_get(kind, key=key, version=head.version).definition
    return {"version": head.version, "written": saved.written, "definition": definition}
