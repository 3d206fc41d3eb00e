"""`/api/v1/notification-templates` and `/api/v1/canned-responses`.

Templates: admins and agents read them, admins change them (a PUT keeps the previous text as a
version; a DELETE restores the shipped default); anyone who reads them previews one, or a
draft of one, against a ticket they may read. Canned responses: see `notifications.selectors`
and docs/notifications.md for who sees and changes which.
"""

from __future__ import annotations

from typing import Any

from ninja import Query, Router, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core import clock
from sportello.core.versions_api import (
    history_routes,
)

from . import canned as canned_responses
from . import selectors, services
from .models import CannedResponse
from .schemas import (
    CannedIn,
    CannedList,
    CannedOut,
    CannedPatch,
    RenderIn,
    RenderOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplatePreviewIn,
    TemplatePreviewOut,
    TemplateSaved,
    TemplateVersionOut,
)
from .selectors import TemplateEntry

router = Router(tags=["notifications"])


def entry_out(entry: TemplateEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "language": entry.language,
        "source": entry.source,
        "active": entry.active,
        "subject": entry.subject,
        "body_text": entry.body_text,
        "body_html": entry.body_html,
        "version": entry.version,
        "updated_at": entry.updated_at,
        "updated_by_id": entry.updated_by_id,
        "has_default": entry.has_default,
        "audience": entry.audience,
        "description": entry.description,
    }


def canned_out(canned: CannedResponse) -> dict[str, Any]:
    return {
        "id": canned.pk,
        "title": canned.title,
        "body": canned.body,
        "language": canned.language,
        "shared": canned.owner_department_id is not None,
        "owner_user_id": canned.owner_user_id,
        "department_id": canned.owner_department_id,
        "created_at": canned.created_at,
        "updated_at": canned.updated_at,
    }


# -- templates (the preview route comes first: `{key}/preview` is not a language)


@router.post(
    "/notification-templates/{key}/preview",
    response=TemplatePreviewOut,
    summary="Render a template, or a draft of it, against a ticket",
)
def preview_template(request: ApiRequest, key: str, payload: TemplatePreviewIn) -> dict[str, Any]:
    """The stored template (the admin's, else the default) in `language` (default: the
    requester's, else English), or the `subject` / `body_text` / `body_html` drafts given in
    its place, rendered for the ticket. Nothing is saved or sent."""
    draft = {"subject": payload.subject, "body_text": payload.body_text, "body_html": payload.body_html}
    rendered, source = services.template_preview(
        principal=request.auth, key=key, ticket_id=payload.ticket_id, language=payload.language,
        draft=draft, now=clock.now(),
    )  # fmt: skip
    return {
        "key": key,
        "language": rendered.language,
        "source": source,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }


@router.get("/notification-templates", response=TemplateList, summary="Every template key in every language")
def list_templates(request: ApiRequest) -> dict[str, Any]:
    return {"items": [entry_out(e) for e in selectors.template_list(principal=request.auth)]}


@router.get(
    "/notification-templates/{key}/{language}", response=TemplateOut, summary="One template in one language"
)
def get_template(request: ApiRequest, key: str, language: str) -> dict[str, Any]:
    return entry_out(selectors.template_get(principal=request.auth, key=key, language=language))


@router.put(
    "/notification-templates/{key}/{language}",
    response=TemplateSaved,
    summary="Save an admin's text for a template (a new version)",
)
def put_template(request: ApiRequest, key: str, language: str, payload: TemplateIn) -> dict[str, Any]:
    _, written = services.template_save(
        key=key, language=language, subject=payload.subject, body_text=payload.body_text,
        body_html=payload.body_html, active=payload.active, actor=request.auth, now=clock.now(),
    )  # fmt: skip
    entry = selectors.template_get(principal=request.auth, key=key, language=language)
    return {**entry_out(entry), "written": written}


@router.delete(
    "/notification-templates/{key}/{language}",
    response={204: None},
    summary="Restore the shipped default (the admin's versions are kept)",
)
def delete_template(request: ApiRequest, key: str, language: str) -> Status:
    services.template_reset(key=key, language=language, actor=request.auth)
    return Status(204, None)


@router.get(
    "/notification-templates/{key}/{language}/versions",
    response=list[TemplateVersionOut],
    summary="The texts admins saved for a template, newest first",
)
def template_versions(request: ApiRequest, key: str, language: str) -> list[dict[str, Any]]:
    return [
        {"version": v.version, "subject": v.subject, "body_text": v.body_text, "body_html": v.body_html,
         "active": v.active, "created_at": v.created_at, "created_by_id": v.created_by_id}
        for v in selectors.template_versions(principal=request.auth, key=key, language=language)
    ]  # fmt: skip


def _may_revert_template(user: Any, key: str) -> None:
    require_admin(user)
    template, language = key.split("/", 1)
    services.check_key(template)
    services.check_language(language)


history_routes(
    router,
    path="/notification-templates/{key}/{language}",
    kind=services.TEMPLATES,
    module=__name__,
    names=(None, "template_version", "template_diff", "template_revert"),  # the list: above
    may_read=lambda user, key: selectors.require_agent_or_admin(user, "notification templates"),
    may_revert=_may_revert_template,
    thing="text",
)


# -- canned responses


@router.get("/canned-responses", response=CannedList, summary="My canned responses and the shared ones I see")
def list_canned(request: ApiRequest, language: Query[str | None] = None) -> dict[str, Any]:
    """`?language=es`: those in Spanish and those in no particular language."""
    return {
        "items": [canned_out(c) for c in selectors.canned_list(principal=request.auth, language=language)]
    }


@router.post("/canned-responses", response={201: CannedOut}, summary="Create a canned response")
def create_canned(request: ApiRequest, payload: CannedIn) -> Status:
    """Personal without `department_id`; shared with a department by its agents or an admin."""
    canned = canned_responses.canned_create(
        actor=request.auth, title=payload.title, body=payload.body, language=payload.language,
        department_id=payload.department_id, now=clock.now(),
    )  # fmt: skip
    return Status(201, canned_out(canned))


@router.get("/canned-responses/{canned_id}", response=CannedOut, summary="One canned response")
def get_canned(request: ApiRequest, canned_id: int) -> dict[str, Any]:
    return canned_out(selectors.canned_get(principal=request.auth, canned_id=canned_id))


@router.patch("/canned-responses/{canned_id}", response=CannedOut, summary="Change a canned response")
def update_canned(request: ApiRequest, canned_id: int, payload: CannedPatch) -> dict[str, Any]:
    canned = canned_responses.canned_update(
        actor=request.auth, canned_id=canned_id, title=payload.title, body=payload.body,
        language=payload.language, now=clock.now(),
    )  # fmt: skip
    return canned_out(canned)


@router.delete("/canned-responses/{canned_id}", response={204: None}, summary="Delete a canned response")
def delete_canned(request: ApiRequest, canned_id: int) -> Status:
    canned_responses.canned_delete(actor=request.auth, canned_id=canned_id)
    return Status(204, None)


@router.post(
    "/canned-responses/{canned_id}/render",
    response=RenderOut,
    summary="A canned response filled in for a ticket, to insert into a reply",
)
def render_canned(request: ApiRequest, canned_id: int, payload: RenderIn) -> dict[str, Any]:
    rendered = canned_responses.canned_render(
        actor=request.auth, canned_id=canned_id, ticket_id=payload.ticket_id, now=clock.now()
    )
    return {"text": rendered.text, "html": rendered.html, "language": rendered.language}
