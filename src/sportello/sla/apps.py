from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sportello.sla"
    label = "sla"
    verbose_name = "Service levels"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        from . import timers

        timers.register()  # the worker fires SLA warnings, breaches and escalations
        register_signature("sla_policies", "sla_slapolicy")
