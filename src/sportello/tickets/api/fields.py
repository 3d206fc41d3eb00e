"""`/api/v1/fields` (custom-field definitions) and `/departments/{id}/layout`.

Every agent reads field definitions; admins create and change them and replace layouts. A
department's layout is read by admins and by the agents of that department.
"""

from __future__ import annotations

from typing import Any

from ninja import Router, Status

from sportello.accounts.http import ApiRequest
from sportello.accounts.services import require_admin
from sportello.core.paging import SortKey, page_limit, paginate

from .. import fields_services as services
from ..fields_schemas import FieldCreateIn, FieldOut, FieldPage, FieldPatchIn, LayoutIn, LayoutOut
from ..models import CustomField, LayoutField

router = Router(tags=["fields"])


def field_out(f: CustomField) -> dict[str, Any]:
    return {
        "id": f.pk,
        "key": f.key,
        "label": f.label,
        "type": f.type,
        "options": [{"value": o["value"], "label": o.get("label") or o["value"]} for o in f.options or []],
        "description": f.description,
        "position": f.position,
        "is_active": f.is_active,
        "created_at": f.created_at,
    }


def layout_out(department_id: int, rows: list[LayoutField]) -> dict[str, Any]:
    return {
        "department_id": department_id,
        "fields": [
            {
                "field": r.field.key,
                "field_id": r.field_id,
                "label": r.field.label,
                "type": r.field.type,
                "required": r.required,
                "required_from_customer": r.required_from_customer,
                "customer_access": r.customer_access,
                "position": r.position,
                "allowed_values": r.allowed_values,
            }
            for r in rows
        ],
    }


@router.get("/fields", response=FieldPage, summary="List custom fields")
def list_fields(
    request: ApiRequest, is_active: bool | None = None, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    qs = services.custom_field_list(user=request.auth, is_active=is_active)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    return {"items": [field_out(f) for f in rows], "next_cursor": nxt}


@router.get("/fields/{ref}", response=FieldOut, summary="Get a custom field by key or id")
def get_field(request: ApiRequest, ref: str) -> dict[str, Any]:
    return field_out(services.custom_field_get(user=request.auth, ref=ref))


@router.post("/fields", response={201: FieldOut}, summary="Define a custom field (admins)")
def create_field(request: ApiRequest, payload: FieldCreateIn) -> Status[dict[str, Any]]:
    require_admin(request.auth)
    field = services.custom_field_create(
        actor=request.auth,
        key=payload.key,
        label=payload.label,
        type=payload.type,
        options=[services.FieldOption(value=o.value, label=o.label) for o in payload.options],
        description=payload.description,
        position=payload.position,
    )
    return Status(201, field_out(field))


@router.patch("/fields/{ref}", response=FieldOut, summary="Change a custom field (admins)")
def patch_field(request: ApiRequest, ref: str, payload: FieldPatchIn) -> dict[str, Any]:
    require_admin(request.auth)
    field = services.custom_field_get(user=request.auth, ref=ref)
    data = payload.model_dump(exclude_unset=True)
    options = data.pop("options", None)
    field = services.custom_field_update(
        actor=request.auth,
        field=field,
        options=None
        if options is None
        else [services.FieldOption(value=o["value"], label=o["label"]) for o in options],
        **data,
    )
    return field_out(field)


@router.get("/departments/{department_id}/layout", response=LayoutOut, summary="A department's layout")
def get_layout(request: ApiRequest, department_id: int) -> dict[str, Any]:
    department = services.department_for_layout(user=request.auth, department_id=department_id)
    return layout_out(department.pk, services.layout_get(department=department))


@router.put(
    "/departments/{department_id}/layout",
    response=LayoutOut,
    summary="Replace a department's layout (admins)",
)
def put_layout(request: ApiRequest, department_id: int, payload: LayoutIn) -> dict[str, Any]:
    require_admin(request.auth)
    department = services.department_for_layout(user=request.auth, department_id=department_id)
    rows = services.layout_replace(
        actor=request.auth,
        department=department,
        rows=[
            services.LayoutRowSpec(
                field=r.field,
                required=r.required,
                required_from_customer=r.required_from_customer,
                customer_access=r.customer_access,
                position=r.position,
                allowed_values=r.allowed_values,
            )
            for r in payload.fields
        ],
    )
    return layout_out(department.pk, rows)
