"""The seams through which the outbox reaches the apps above it without importing them: they
register here (from their `AppConfig.ready`) and the outbox calls what is registered.

- `on_delivery_failed(hook)`: `hook(outbox_id=…, now=…)` runs after a delivery failed for good
  (its failure already recorded, outside that transaction), once per failure; the tickets app
  records an agent's failed reply on its ticket this way. A hook that raises is logged and
  does not stop the others.
- `on_thread_lookup(source)`: `source(ticket_id=…, limit=…)` gives the Message-IDs (without
  angle brackets or with, as received) and receipt instants of mail received on a ticket, most
  recent first; the e-mail transport threads its messages under them. Mail intake registers it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

logger = logging.getLogger(__name__)


class DeliveryFailedHook(Protocol):
    def __call__(self, *, outbox_id: int, now: datetime) -> None: ...


class ThreadSource(Protocol):
    def __call__(self, *, ticket_id: int, limit: int) -> Iterable[tuple[str, datetime]]: ...


_failed_hooks: list[DeliveryFailedHook] = []
_thread_sources: list[ThreadSource] = []


def on_delivery_failed(hook: DeliveryFailedHook) -> DeliveryFailedHook:
    if hook not in _failed_hooks:
        _failed_hooks.append(hook)
    return hook


def on_thread_lookup(source: ThreadSource) -> ThreadSource:
    if source not in _thread_sources:
        _thread_sources.append(source)
    return source


def delivery_failed(*, outbox_id: int, now: datetime) -> None:
    """Tell every registered hook that a delivery failed for good."""
    for hook in list(_failed_hooks):
        try:
            hook(outbox_id=outbox_id, now=now)
        except Exception:  # the failure itself is recorded on the item; this is its report
            logger.exception("could not record the failed delivery of outbox %s", outbox_id)


def received_message_ids(*, ticket_id: int, limit: int) -> list[tuple[str, datetime]]:
    """(Message-ID header, received at) of mail received on a ticket, most recent first, from
    every registered source."""
    rows: list[tuple[str, datetime]] = []
    for source in list(_thread_sources):
        rows.extend(source(ticket_id=ticket_id, limit=limit))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:limit] if len(_thread_sources) > 1 else rows
