from django.apps import AppConfig


class BlueprintsConfig(AppConfig):
    name = "sportello.blueprints"
    label = "blueprints"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        register_signature("blueprints", "blueprints_blueprint")

        from . import timers

        timers.register()  # the worker fires state time-limit escalations
