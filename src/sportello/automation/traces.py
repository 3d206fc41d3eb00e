"""Rule traces' retention: the quiet traces ("why did no rule act?") are kept a number of days.

A module of its own so the housekeeping job (`automation.jobs`) needs nothing of the rule
services, which arm timers through the jobs module."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from .models import RuleTrace


def rule_traces_prune(*, now: datetime, batch_size: int = 1000) -> int:
    """Delete the quiet rule traces (no rule fired, failed or reached its cap) older than
    `SPORTELLO["RULE_TRACE_RETENTION_DAYS"]` days, in batches so no statement holds locks long.
    The traces of changes on which a rule acted are kept. Returns how many were deleted."""
    cutoff = now - timedelta(days=int(settings.SPORTELLO["RULE_TRACE_RETENTION_DAYS"]))
    old = RuleTrace.objects.filter(quiet=True, at__lt=cutoff)
    total = 0
    while True:
        pks = list(old.order_by("at").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        total += RuleTrace.objects.filter(pk__in=pks).delete()[0]
