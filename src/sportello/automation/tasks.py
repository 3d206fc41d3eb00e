"""The former path of the automation app's background jobs (`jobs`): jobs queued under it before
the rename still find their task here."""

from .jobs import prune_rule_traces, rearm_timers

__all__ = ["prune_rule_traces", "rearm_timers"]
