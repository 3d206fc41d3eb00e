"""`/api/v1/tickets/{id}/deliveries`: what became of a ticket's e-mails and webhooks;
`/api/v1/deliveries/parked` and `POST /api/v1/deliveries/{id}/retry`: deliveries parked after
their retry window, and putting one back in the queue (admins)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from ninja import Router

from sportello.accounts.http import ApiRequest
from sportello.core import clock
from sportello.core.paging import SortKey, page_limit, paginate
from sportello.tickets import selectors as ticket_selectors

from .. import selectors, services
from ..models import OutboxMessage, OutboxStatus
from ..schemas import DeliveryOut, DeliveryPage

router = Router(tags=["deliveries"])
# Operation ids as they were when this module was `sportello.channels.api`: clients generated
# from the OpenAPI document keep their names.
OPERATION_PREFIX = "sportello_channels_api_"


def public_url(url: str) -> str:
    """The destination without credentials: user info, query and fragment are dropped."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def delivery_state(item: OutboxMessage) -> str:
    if item.status == OutboxStatus.PENDING:
        return "retrying" if item.attempts > 0 else "pending"
    return str(item.status)


def delivery_out(item: OutboxMessage) -> dict[str, Any]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    recipients = payload.get("to") if item.kind == "email" else None
    url = payload.get("url") if item.kind == "webhook" else None
    return {
        "id": item.pk,
        "ticket_id": item.ticket_id,
        "delivery_id": str(item.delivery_id),
        "kind": item.kind,
        "state": delivery_state(item),
        "attempts": item.attempts,
        "last_error": item.last_error,
        "next_attempt_at": item.next_attempt_at if item.status == OutboxStatus.PENDING else None,
        "sent_at": item.sent_at,
        "parked_at": item.parked_at,
        "created_at": item.created_at,
        "recipients": [str(r) for r in recipients] if isinstance(recipients, list) else [],
        "url": public_url(url) if isinstance(url, str) else None,
    }


@router.get(
    "/tickets/{ticket_id}/deliveries",
    response=DeliveryPage,
    summary="Delivery state of a ticket's e-mails and webhooks",
    operation_id=OPERATION_PREFIX + "list_deliveries",
)
def list_deliveries(
    request: ApiRequest, ticket_id: int, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    ticket = ticket_selectors.ticket_get_for(principal=request.auth, ticket_id=ticket_id)
    qs = selectors.delivery_list(principal=request.auth, ticket=ticket)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    return {"items": [delivery_out(r) for r in rows], "next_cursor": nxt}


@router.get(
    "/deliveries/parked",
    response=DeliveryPage,
    summary="Deliveries parked after their retry window (admins)",
    operation_id=OPERATION_PREFIX + "list_parked",
)
def list_parked(
    request: ApiRequest,
    kind: Literal["email", "webhook"] | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """E-mails and webhooks whose temporary failures outlasted their retry window (a day by
    default). They are kept until an admin retries them."""
    qs = selectors.parked_list(principal=request.auth, kind=kind)
    rows, nxt = paginate(qs, keys=[SortKey("id")], cursor=cursor, limit=page_limit(limit))
    return {"items": [delivery_out(r) for r in rows], "next_cursor": nxt}


@router.post(
    "/deliveries/{delivery_id}/retry",
    response=DeliveryOut,
    summary="Put a parked delivery back in the queue (admins)",
    operation_id=OPERATION_PREFIX + "retry_delivery",
)
def retry_delivery(request: ApiRequest, delivery_id: int) -> dict[str, Any]:
    """Delivered again as soon as a worker is free, with a new retry window; the same delivery
    id, so a receiver that got it before recognises it. 409 unless the delivery is parked."""
    item = services.delivery_retry(actor=request.auth, outbox_id=delivery_id, now=clock.now())
    return delivery_out(item)
