from django.apps import AppConfig


class TicketTasksConfig(AppConfig):
    name = "sportello.ticket_tasks"
    label = "ticket_tasks"
    verbose_name = "Tasks"

    def ready(self) -> None:
        from . import reminders

        reminders.register()  # the worker sends due task reminders
