from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "sportello.channels"
    label = "channels"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the periodic outbox sweep)
