from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"

    def ready(self) -> None:
        from . import timers

        timers.register()  # the worker fires due time-rule timers
