from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "sportello.channels"
    label = "channels"

    def ready(self) -> None:
        from . import imap, tasks  # noqa: F401  (tasks registers the periodic outbox sweep)

        imap.register()  # the worker polls the IMAP mailboxes
