from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "sportello.surveys"
    label = "surveys"
    verbose_name = "Satisfaction surveys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import services

        services.register()  # the timer kind, the worker's poller, the rule facts, the history
