"""One transport per kind of delivery ("email", "webhook"), registered here: what the delivery
loop (`outbox.services`) calls to make an attempt, the task queue the kind waits in, and how long
its transient failures are retried. The loop itself knows no kind.

A transport's `deliver` returns normally when the delivery went out, raises `PermanentFailure`
when retrying cannot help and `TransientFailure` when a later attempt may succeed (any other
exception counts as transient). It returns the recipients to count as sent an automatic reply
(e-mail), or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings


class PermanentFailure(Exception):
    """Retrying cannot help (a refused destination, an HTTP 4xx or SMTP 5xx answer, an unusable
    payload)."""


class TransientFailure(Exception):
    """Worth another attempt later."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What a transport is given for one attempt: a claimed outbox item."""

    outbox_id: int
    payload: dict[str, Any]
    delivery_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Transport:
    kind: str
    deliver: Callable[[Attempt], tuple[str, ...]]
    queue: str  # the task queue its deliveries wait in (settings.TASKS["default"]["QUEUES"])
    # The key of SPORTELLO (seconds) overriding `retry_window_default`.
    retry_window_setting: Literal["WEBHOOK_RETRY_WINDOW", "MAIL_RETRY_WINDOW"]
    retry_window_default: float

    def retry_window(self) -> float:
        """Seconds after it was queued (or retried by an admin) during which a delivery's
        transient failures are retried, however many attempts that takes."""
        return float(settings.SPORTELLO.get(self.retry_window_setting, self.retry_window_default))


_TRANSPORTS: dict[str, Transport] = {}


def register_transport(transport: Transport) -> Transport:
    """Register the transport of a kind (once; registering the same kind again replaces it)."""
    _TRANSPORTS[transport.kind] = transport
    return transport


def transport_for(kind: str) -> Transport | None:
    return _TRANSPORTS.get(kind)
