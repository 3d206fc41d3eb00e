from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "sportello.tickets"
    label = "tickets"

    def ready(self) -> None:
        from sportello.accounts.structure import DESK
        from sportello.core.config import watch
        from sportello.outbox import hooks

        from .models import CustomField, LayoutField, Status

        watch(DESK, Status, CustomField, LayoutField)  # tickets.configuration

        from . import delivery

        hooks.on_delivery_failed(delivery.reply_failed)  # an agent's failed reply, on its ticket

        from . import (
            contact_merge,
            history,  # noqa: F401  (registers statuses, fields and layouts as snapshot kinds)
        )

        contact_merge.register()  # what a contact merge moves of the tickets and their messages
