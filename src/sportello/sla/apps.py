from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sportello.sla"
    label = "sla"
    verbose_name = "Service levels"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        from . import calendars, services, tiers, timers  # noqa: F401  (their configuration kinds)

        timers.register()  # the worker fires SLA warnings, breaches and escalations
        register_signature("sla_policies", "sla_slapolicy")
        register_signature("calendars", "sla_businesscalendar")
        register_signature("tier_paths", "sla_tierpath")

        from sportello.automation import facts

        from .calendars import in_business_hours

        facts.business_hours = in_business_hours  # rules' `clock.in_business_hours`
