from django.apps import AppConfig


class QueuesConfig(AppConfig):
    name = "sportello.queues"
    label = "queues"
    default_auto_field = "django.db.models.BigAutoField"
