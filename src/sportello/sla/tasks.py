"""The former path of the SLA app's background jobs (`jobs`): jobs queued under it before the
rename still find their task here."""

from .jobs import reflow_clocks

__all__ = ["reflow_clocks"]
