from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        from . import jobs, timers  # noqa: F401  (jobs registers the periodic trace pruning)

        timers.register()  # the worker fires due time-rule timers
        register_signature("rules", "automation_rule")
