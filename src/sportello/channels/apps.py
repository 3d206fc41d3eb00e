from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "sportello.channels"
    label = "channels"

    def ready(self) -> None:
        from sportello.accounts.structure import DESK
        from sportello.core.config import watch
        from sportello.outbox import hooks

        from . import history, imap, threads  # noqa: F401  (history: mailboxes' snapshot kind)
        from .addresses import RUNTIME
        from .models import Mailbox

        imap.register()  # the worker polls the IMAP mailboxes
        hooks.on_thread_lookup(threads.received_message_ids)  # outbound mail threads under it
        # Intake's addresses (`channels.addresses`): an admin's change of a mailbox moves the
        # desk's signature; the poller's cursor, lease and errors do not.
        watch(DESK, Mailbox, unwatched=RUNTIME)
