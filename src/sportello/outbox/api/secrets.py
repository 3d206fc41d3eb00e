"""`/api/v1/webhook-secrets`: the secrets that sign webhook deliveries (admins). A value is in
the answer that creates or rotates it and in no other answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from sportello.accounts.http import ApiRequest
from sportello.core import clock

from .. import secrets
from ..models import WebhookSecret

router = Router(tags=["webhook secrets"])
# Operation ids as they were when this module was `sportello.channels.api_secrets`: clients
# generated from the OpenAPI document keep their names.
OPERATION_PREFIX = "sportello_channels_api_secrets_"


class WebhookSecretCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    value: str | None = None  # generated when left out


class WebhookSecretRotateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    value: str | None = None  # generated when left out


class WebhookSecretOut(Schema):
    name: str
    version: int  # 1 when created, one more at each rotation
    created_at: datetime
    created_by: str | None
    rotated_at: datetime | None
    rotated_by: str | None
    previous_valid_until: datetime | None
    last_used_at: datetime | None


class WebhookSecretValueOut(WebhookSecretOut):
    value: str  # shown this once


class WebhookSecretList(Schema):
    items: list[WebhookSecretOut]


def secret_out(row: WebhookSecret, *, now: datetime) -> dict[str, Any]:
    grace = row.previous_until if row.previous and row.previous_until and row.previous_until > now else None
    return {
        "name": row.name,
        "version": row.version,
        "created_at": row.created_at,
        "created_by": row.created_by.email if row.created_by is not None else None,
        "rotated_at": row.rotated_at,
        "rotated_by": row.rotated_by.email if row.rotated_by is not None else None,
        "previous_valid_until": grace,
        "last_used_at": row.last_used_at,
    }


@router.get(
    "/webhook-secrets",
    response=WebhookSecretList,
    summary="List webhook secrets (admins)",
    operation_id=OPERATION_PREFIX + "list_secrets",
)
def list_secrets(request: ApiRequest) -> dict[str, Any]:
    """Names and dates only: values are never listed."""
    now = clock.now()
    return {"items": [secret_out(r, now=now) for r in secrets.secret_list(actor=request.auth)]}


@router.post(
    "/webhook-secrets",
    response={201: WebhookSecretValueOut},
    summary="Create a webhook secret (admins)",
    operation_id=OPERATION_PREFIX + "create_secret",
)
def create_secret(request: ApiRequest, payload: WebhookSecretCreateIn) -> Status[dict[str, Any]]:
    """With no `value`, a strong one is generated. The answer holds the value: it is shown this
    once. 409 when the name is taken."""
    now = clock.now()
    row, value = secrets.secret_create(actor=request.auth, name=payload.name, value=payload.value, now=now)
    return Status(201, {**secret_out(row, now=now), "value": value})


@router.post(
    "/webhook-secrets/{secret_name}/rotate",
    response=WebhookSecretValueOut,
    summary="Give a webhook secret a new value (admins)",
    operation_id=OPERATION_PREFIX + "rotate_secret",
)
def rotate_secret(request: ApiRequest, secret_name: str, payload: WebhookSecretRotateIn) -> dict[str, Any]:
    """The answer holds the new value, shown this once. The previous value keeps signing
    deliveries (in `X-Sportello-Signature-Previous`) until `previous_valid_until`."""
    now = clock.now()
    row, value = secrets.secret_rotate(actor=request.auth, name=secret_name, value=payload.value, now=now)
    return {**secret_out(row, now=now), "value": value}


@router.delete(
    "/webhook-secrets/{secret_name}",
    response={204: None},
    summary="Delete a webhook secret (admins)",
    operation_id=OPERATION_PREFIX + "delete_secret",
)
def delete_secret(request: ApiRequest, secret_name: str) -> Status[None]:
    """409 naming the rules, macros, SLA policies and blueprints that still use it."""
    secrets.secret_delete(actor=request.auth, name=secret_name, now=clock.now())
    return Status(204, None)
