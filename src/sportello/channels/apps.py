from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "sportello.channels"
    label = "channels"

    def ready(self) -> None:
        from sportello.outbox import hooks

        from . import imap, threads

        imap.register()  # the worker polls the IMAP mailboxes
        hooks.on_thread_lookup(threads.received_message_ids)  # outbound mail threads under it
