from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        # jobs registers the periodic trace pruning; assignment, macros and services their
        # configuration kinds (so every kind is known in any process, not only once URLs load)
        from . import assignment, jobs, macros, services, timers  # noqa: F401

        timers.register()  # the worker fires due time-rule timers
        register_signature("rules", "automation_rule")
