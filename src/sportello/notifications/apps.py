from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "sportello.notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sportello.core.config import register_signature

        register_signature("notification_templates", "notifications_notificationtemplate")
        # history registers shared canned responses as a snapshot kind; jobs the hourly prune of
        # the customer-limit ledger; services the templates' configuration kind
        from . import history, jobs, services  # noqa: F401
