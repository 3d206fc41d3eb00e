"""Background jobs live in each app's `jobs` module; jobs queued under the former `tasks` paths
(their dotted path is stored in the job's row) still find their task."""

from __future__ import annotations

import pytest
from django.tasks import Task
from django.utils.module_loading import import_string


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sportello.automation.tasks.rearm_timers", "sportello.automation.jobs.rearm_timers"),
        ("sportello.automation.tasks.prune_rule_traces", "sportello.automation.jobs.prune_rule_traces"),
        ("sportello.sla.tasks.reflow_clocks", "sportello.sla.jobs.reflow_clocks"),
        (
            "sportello.notifications.tasks.prune_customer_notifications",
            "sportello.notifications.jobs.prune_customer_notifications",
        ),
    ],
)
def test_a_job_queued_under_its_former_path_finds_its_task(old: str, new: str) -> None:
    task = import_string(new)
    assert isinstance(task, Task)
    assert task.module_path == new  # what new jobs store
    assert import_string(old) is task
