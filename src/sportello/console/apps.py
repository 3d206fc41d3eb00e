from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "sportello.console"
    label = "console"
    verbose_name = "Console"
