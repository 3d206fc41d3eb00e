"""`/api/v1/contacts`, `/organizations`: customers. Every agent reads them; admins and agents
create and change them (light agents get 403)."""

from __future__ import annotations

from typing import Any

from ninja import Query, Router, Schema, Status
from pydantic import Field

from sportello.accounts.http import ApiRequest
from sportello.core.paging import SortKey, page_limit, paginate, parse_sort

from . import selectors, services
from .models import Contact, Organization
from .schemas import (
    ContactCreateIn,
    ContactOut,
    ContactPage,
    ContactPatchIn,
    OrganizationCreateIn,
    OrganizationOut,
    OrganizationPage,
    OrganizationPatchIn,
)

router = Router(tags=["customers"])

CONTACT_SORTS = {
    "id": SortKey("id"),
    "email": SortKey("email", kind="str"),
    "name": SortKey("name", kind="str"),
    "created_at": SortKey("created_at", kind="datetime"),
}
ORGANIZATION_SORTS = {
    "id": SortKey("id"),
    "name": SortKey("name", kind="str"),
    "created_at": SortKey("created_at", kind="datetime"),
}


def contact_out(c: Contact) -> dict[str, Any]:
    return {
        "id": c.pk,
        "email": c.email,
        "name": c.name,
        "phone": c.phone,
        "language": c.language,
        "time_zone": c.time_zone,
        "vip": c.vip,
        "organization_id": c.organization_id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def organization_out(o: Organization) -> dict[str, Any]:
    return {
        "id": o.pk,
        "name": o.name,
        "domains": list(o.domains or []),
        "tier": o.tier,
        "vip": o.vip,
        "notes": o.notes,
        "created_at": o.created_at,
    }


class ContactFilters(Schema):
    q: str | None = Field(default=None, description="case-insensitive substring of e-mail, name or phone")
    organization_id: int | None = None
    vip: bool | None = None
    sort: str | None = Field(default=None, description="`id`, `email`, `name` or `created_at`; `-` descends")
    cursor: str | None = None
    limit: int | None = None


class OrganizationFilters(Schema):
    q: str | None = Field(default=None, description="case-insensitive substring of the name")
    tier: str | None = None
    vip: bool | None = None
    sort: str | None = Field(default=None, description="`id`, `name` or `created_at`; `-` descends")
    cursor: str | None = None
    limit: int | None = None


# --------------------------------------------------------------------------------------------
# Contacts


@router.get("/contacts", response=ContactPage, summary="List contacts")
def list_contacts(request: ApiRequest, filters: Query[ContactFilters]) -> dict[str, Any]:
    qs = selectors.contact_list(
        user=request.auth, q=filters.q, organization_id=filters.organization_id, vip=filters.vip
    )
    keys = parse_sort(filters.sort, allowed=CONTACT_SORTS, default=[])
    rows, nxt = paginate(qs, keys=keys, cursor=filters.cursor, limit=page_limit(filters.limit))
    return {"items": [contact_out(c) for c in rows], "next_cursor": nxt}


@router.get("/contacts/{contact_id}", response=ContactOut, summary="Get a contact")
def get_contact(request: ApiRequest, contact_id: int) -> dict[str, Any]:
    return contact_out(selectors.contact_get(user=request.auth, contact_id=contact_id))


@router.post("/contacts", response={201: ContactOut}, summary="Create a contact")
def create_contact(request: ApiRequest, payload: ContactCreateIn) -> Status[dict[str, Any]]:
    services.require_writer(request.auth)
    organization = (
        None
        if payload.organization_id is None
        else selectors.organization_for_reference(organization_id=payload.organization_id)
    )
    contact = services.contact_create(
        email=payload.email,
        name=payload.name,
        phone=payload.phone,
        language=payload.language,
        time_zone=payload.time_zone,
        vip=payload.vip,
        organization=organization,
        actor=request.auth,
    )
    return Status(201, contact_out(contact))


@router.patch("/contacts/{contact_id}", response=ContactOut, summary="Change a contact")
def patch_contact(request: ApiRequest, contact_id: int, payload: ContactPatchIn) -> dict[str, Any]:
    services.require_writer(request.auth)
    contact = selectors.contact_get(user=request.auth, contact_id=contact_id)
    data = payload.model_dump(exclude_unset=True)
    organization: Organization | services.Unset | None = services.UNSET
    if "organization_id" in data:
        org_id = data.pop("organization_id")
        organization = (
            None if org_id is None else selectors.organization_for_reference(organization_id=org_id)
        )
    contact = services.contact_update(contact=contact, actor=request.auth, organization=organization, **data)
    return contact_out(contact)


# --------------------------------------------------------------------------------------------
# Organizations


@router.get("/organizations", response=OrganizationPage, summary="List organizations")
def list_organizations(request: ApiRequest, filters: Query[OrganizationFilters]) -> dict[str, Any]:
    qs = selectors.organization_list(user=request.auth, q=filters.q, tier=filters.tier, vip=filters.vip)
    keys = parse_sort(filters.sort, allowed=ORGANIZATION_SORTS, default=[])
    rows, nxt = paginate(qs, keys=keys, cursor=filters.cursor, limit=page_limit(filters.limit))
    return {"items": [organization_out(o) for o in rows], "next_cursor": nxt}


@router.get("/organizations/{organization_id}", response=OrganizationOut, summary="Get an organization")
def get_organization(request: ApiRequest, organization_id: int) -> dict[str, Any]:
    return organization_out(selectors.organization_get(user=request.auth, organization_id=organization_id))


@router.post("/organizations", response={201: OrganizationOut}, summary="Create an organization")
def create_organization(request: ApiRequest, payload: OrganizationCreateIn) -> Status[dict[str, Any]]:
    organization = services.organization_create(
        name=payload.name,
        domains=payload.domains,
        tier=payload.tier,
        vip=payload.vip,
        notes=payload.notes,
        actor=request.auth,
    )
    return Status(201, organization_out(organization))


@router.patch("/organizations/{organization_id}", response=OrganizationOut, summary="Change an organization")
def patch_organization(
    request: ApiRequest, organization_id: int, payload: OrganizationPatchIn
) -> dict[str, Any]:
    services.require_writer(request.auth)
    organization = selectors.organization_get(user=request.auth, organization_id=organization_id)
    data = payload.model_dump(exclude_unset=True)
    organization = services.organization_update(organization=organization, actor=request.auth, **data)
    return organization_out(organization)
