from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "sportello.outbox"
    label = "outbox"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the periodic outbox sweep and pruning)
