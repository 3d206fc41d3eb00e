from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "sportello.tickets"
    label = "tickets"

    def ready(self) -> None:
        from sportello.outbox import hooks

        from . import delivery

        hooks.on_delivery_failed(delivery.reply_failed)  # an agent's failed reply, on its ticket
