"""The history of a configured thing over the API, the same for every kind (`core.versioning`):
`GET …/{key}/versions` (newest first), `GET …/{key}/versions/{n}` (the definition),
`GET …/{key}/versions/{a}/diff/{b}` (what changed from a to b) and `POST …/{key}/revert`
(`{"version": n}`: a new version equal to version n).

Each kind's API module declares the routes under its own paths with `history_routes`, saying
who may read and who may revert as for its other operations.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
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


def version_item(v: Any) -> dict[str, Any]:
    """One saved version of a configuration kind, with its definition."""
    return {
        "version": v.version,
        "created_at": v.created_at,
        "created_by_id": v.created_by_id,
        "definition": v.definition,
    }


def version_out(kind: ConfigKind, key: str, version: int) -> dict[str, Any]:
    return version_item(version_get(kind, key=key, version=version))


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


Check = Callable[[Any, str], object]


def history_routes(
    router: Router,
    *,
    path: str,
    kind: ConfigKind,
    module: str,
    names: tuple[str | None, str, str, str],
    may_read: Check,
    may_revert: Check,
    thing: str = "version",
) -> None:
    """Declare a kind's history routes on `router`, under `path` (its things' path with their
    path parameters, e.g. `/calendars/{calendar_key}`; several parameters make one key joined by
    "/", as templates' `{key}/{language}`): `…/versions` (unless `names[0]` is None: the kind
    keeps a list of its own), `…/versions/{version}`, `…/versions/{a}/diff/{b}`, `POST …/revert`.
    `names`: the view names of the four (the operation ids are `module` + name, as if declared
    there); `may_read(user, key)` / `may_revert(user, key)` raise when the request's user may not.
    """
    params = re.findall(r"{(\w+)}", path)

    def key_of(values: dict[str, Any]) -> str:
        return "/".join(str(values[p]) for p in params)

    def declare(
        method: str, suffix: str, name: str, summary: str, response: Any, extra: list[inspect.Parameter],
        answer: Callable[[Any, str, dict[str, Any]], Any], check: Check,
    ) -> None:  # fmt: skip
        def view(request: HttpRequest, **values: Any) -> Any:
            key = key_of(values)
            check(request.auth, key)  # type: ignore[attr-defined]
            return answer(request, key, values)

        view.__name__ = view.__qualname__ = name
        view.__module__ = module
        view.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=HttpRequest),
                *(inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str) for p in params),
                *extra,
            ],
            return_annotation=Any,
        )
        getattr(router, method)(f"{path}{suffix}", response=response, summary=summary)(view)

    def number(name: str) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=int)

    list_name, get_name, diff_name, revert_name = names
    if list_name is not None:
        declare(
            "get", "/versions", list_name, "Every saved version, newest first", ConfigVersionPage, [],
            answer=lambda request, key, v: versions_out(kind, key), check=may_read,
        )  # fmt: skip
    declare(
        "get", "/versions/{version}", get_name, f"One saved {thing}", ConfigVersionOut, [number("version")],
        answer=lambda request, key, v: version_out(kind, key, v["version"]), check=may_read,
    )  # fmt: skip
    declare(
        "get", "/versions/{a}/diff/{b}", diff_name, f"What changed between two saved {thing}s",
        ConfigDiffOut, [number("a"), number("b")],
        answer=lambda request, key, v: diff_out(kind, key, v["a"], v["b"]), check=may_read,
    )  # fmt: skip
    payload = inspect.Parameter("payload", inspect.Parameter.KEYWORD_ONLY, annotation=ConfigRevertIn)
    declare(
        "post", "/revert", revert_name, f"Save an old {thing} again (admins)", ConfigRevertOut, [payload],
        answer=lambda request, key, v: revert_out(kind, key, v["payload"], request.auth), check=may_revert,
    )  # fmt: skip
