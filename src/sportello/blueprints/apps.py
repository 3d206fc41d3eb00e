from django.apps import AppConfig


class BlueprintsConfig(AppConfig):
    name = "sportello.blueprints"
    label = "blueprints"
