"""Rule traces: the quiet ones ("why no rule fired") are pruned after their retention by a
periodic job; the traces of changes on which a rule acted are kept."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sportello.automation.models import RuleTrace, TraceKind
from sportello.automation.traces import rule_traces_prune
from testing import NOW


def _trace(*, days_ago: int, quiet: bool) -> RuleTrace:
    return RuleTrace.objects.create(
        change_id=uuid.uuid4(), at=NOW - timedelta(days=days_ago), kind=TraceKind.EVENT, quiet=quiet,
        trace={"fired": [] if quiet else ["a"], "considered": [["a", 1, "not_matched", "when"]]},
    )  # fmt: skip


def test_quiet_traces_older_than_the_retention_are_pruned_in_batches(db: Any, settings: Any) -> None:
    # Given a retention of 7 days, three old quiet traces, a recent one and an old one of a rule that fired
    settings.SPORTELLO = {**settings.SPORTELLO, "RULE_TRACE_RETENTION_DAYS": 7}
    old = [_trace(days_ago=8, quiet=True) for _ in range(3)]
    recent = _trace(days_ago=6, quiet=True)
    acted = _trace(days_ago=90, quiet=False)
    # When the job runs, in batches of two
    deleted = rule_traces_prune(now=NOW, batch_size=2)
    # Then only the old quiet traces are gone
    assert deleted == 3
    assert set(RuleTrace.objects.values_list("pk", flat=True)) == {recent.pk, acted.pk}
    assert not RuleTrace.objects.filter(pk__in=[t.pk for t in old]).exists()
    # and a second run finds nothing
    assert rule_traces_prune(now=NOW) == 0


def test_the_pruning_runs_every_hour_in_the_worker() -> None:
    from sportello.core.scheduler import registered_jobs

    jobs = {j.name: j.every for j in registered_jobs()}
    assert jobs["rule_traces_prune"] == timedelta(hours=1)
