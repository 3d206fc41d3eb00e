from django.apps import AppConfig


class BlueprintsConfig(AppConfig):
    name = "sportello.blueprints"
    label = "blueprints"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        register_signature("blueprints", "blueprints_blueprint")

        from . import services, timers  # noqa: F401  (services: the blueprints' configuration kind)

        timers.register()  # the worker fires state time-limit escalations
