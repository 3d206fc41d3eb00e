"""`/api/v1/macros`: list, save, preview and apply macros (one ticket or up to 100).

Writes that apply a macro read `X-Sportello-Depth` like every ticket write (`tickets.causation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from pydantic import Field, StrictInt

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.versions_api import (
    history_routes,
)
from sportello.tickets import causation
from sportello.tickets.api import message_out, ticket_out
from sportello.tickets.schemas import MessageOut, Strict, TicketOut

from .. import macros
from ..models import Macro, MacroVersion

router = Router(tags=["macros"])


class MacroIn(Strict):
    """A macro as in the rules document's `macros` list (`docs/rules.md`)."""

    key: Any
    name: Any
    visibility: Any
    actions: Any


class MacroOut(Schema):
    id: int
    key: str
    name: str
    visibility: str
    owner_id: int | None
    version: int
    active: bool
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class MacroPage(Schema):
    items: list[MacroOut]


class MacroPreviewIn(Strict):
    ticket_id: StrictInt


class ChangeOut(Schema):
    field: str
    old: Any
    new: Any


class PreviewMessageOut(Schema):
    public: bool
    body: str


class EffectOut(Schema):
    kind: str
    payload: dict[str, Any]


class MacroPreviewOut(Schema):
    macro: str
    version: int
    changes: list[ChangeOut]
    message: PreviewMessageOut | None
    effects: list[EffectOut]


class ApplyIn(Strict):
    ticket_id: StrictInt
    version: StrictInt | None = None


class ApplyOut(Schema):
    ticket: TicketOut
    message: MessageOut | None
    change_id: str


class BulkIn(Strict):
    ticket_ids: list[StrictInt] = Field(max_length=macros.BULK_MAX)
    version: StrictInt | None = None


class BulkError(Schema):
    status: int
    code: str
    message: str
    field: str | None


class BulkItemOut(Schema):
    ticket_id: int
    ok: bool
    version: int | None
    error: BulkError | None


class BulkOut(Schema):
    items: list[BulkItemOut]


def macro_out(macro: Macro, saved: MacroVersion | None = None) -> dict[str, Any]:
    if saved is None:
        saved = MacroVersion.objects.get(macro=macro, version=macro.version)
    return {
        "id": macro.pk,
        "key": macro.key,
        "name": macro.name,
        "visibility": macro.visibility,
        "owner_id": macro.owner_user_id or macro.owner_team_id or macro.owner_department_id,
        "version": macro.version,
        "active": macro.active,
        "definition": saved.definition,
        "created_at": macro.created_at,
        "updated_at": macro.updated_at,
    }


@router.get("/macros", response=MacroPage, summary="The macros you may use")
def list_macros(request: ApiRequest) -> dict[str, Any]:
    rows = list(macros.macro_list_for(agent=request.auth))
    versions = {
        (v.macro_id, v.version): v
        for v in MacroVersion.objects.filter(macro__in=[m.pk for m in rows])
        if v.version in {m.version for m in rows if m.pk == v.macro_id}
    }
    return {"items": [macro_out(m, versions[(m.pk, m.version)]) for m in rows]}


@router.post("/macros", response={201: MacroOut}, summary="Create a macro")
def create_macro(request: ApiRequest, payload: MacroIn) -> Status:
    macro = macros.macro_create(definition=payload.model_dump(), actor=request.auth, now=clock.now())
    return Status(201, macro_out(macro))


@router.get("/macros/{macro_key}", response=MacroOut, summary="Get a macro")
def get_macro(request: ApiRequest, macro_key: str) -> dict[str, Any]:
    return macro_out(macros.macro_get_for(agent=request.auth, key=macro_key))


@router.put("/macros/{macro_key}", response=MacroOut, summary="Save a new version of a macro")
def put_macro(request: ApiRequest, macro_key: str, payload: MacroIn) -> dict[str, Any]:
    macro, _ = macros.macro_update(
        key=macro_key, definition=payload.model_dump(), actor=request.auth, now=clock.now()
    )
    return macro_out(macro)


history_routes(
    router,
    path="/macros/{macro_key}",
    kind=macros.MACROS,
    module=__name__,
    names=("list_macro_versions", "get_macro_version", "diff_macro_versions", "revert_macro"),
    may_read=lambda user, key: macros.macro_get_for(agent=user, key=key),  # whoever may see the macro
    may_revert=lambda user, key: require_admin(user),
)


@router.post(
    "/macros/{macro_key}/preview",
    response=MacroPreviewOut,
    summary="What applying the macro to a ticket would change (nothing is written)",
)
def preview_macro(request: ApiRequest, macro_key: str, payload: MacroPreviewIn) -> dict[str, Any]:
    preview = macros.macro_preview(
        key=macro_key, ticket_id=payload.ticket_id, agent=request.auth, now=clock.now()
    )
    return {
        "macro": preview.macro.key,
        "version": preview.version,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in preview.changes],
        "message": preview.message,
        "effects": preview.effects,
    }


@router.post("/macros/{macro_key}/apply", response=ApplyOut, summary="Apply a macro to a ticket")
def apply_macro(request: ApiRequest, macro_key: str, payload: ApplyIn) -> dict[str, Any]:
    depth = causation.parse_depth(request.headers.get(causation.HEADER))
    outcome = macros.macro_apply(
        key=macro_key,
        ticket_id=payload.ticket_id,
        agent=request.auth,
        via=Via.API,
        version=payload.version,
        depth=depth,
        now=clock.now(),
    )
    return {
        "ticket": ticket_out(outcome.ticket, tags=outcome.tags),
        "message": message_out(outcome.message, attachments=[]) if outcome.message is not None else None,
        "change_id": str(outcome.change_id),
    }


@router.post(
    "/macros/{macro_key}/apply-bulk",
    response=BulkOut,
    summary="Apply a macro to up to 100 tickets, each on its own",
)
def apply_macro_bulk(request: ApiRequest, macro_key: str, payload: BulkIn) -> dict[str, Any]:
    depth = causation.parse_depth(request.headers.get(causation.HEADER))
    results = macros.macro_apply_bulk(
        key=macro_key,
        ticket_ids=payload.ticket_ids,
        agent=request.auth,
        via=Via.API,
        version=payload.version,
        depth=depth,
        now=clock.now(),
    )
    return {
        "items": [
            {
                "ticket_id": r.ticket_id,
                "ok": r.ok,
                "version": r.version,
                "error": None
                if r.ok
                else {"status": r.status, "code": r.code, "message": r.message, "field": r.field},
            }
            for r in results
        ]
    }
