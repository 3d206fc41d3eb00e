from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "sportello.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the roll-ups' compaction)
