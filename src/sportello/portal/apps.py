from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "sportello.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from sportello.core.config import watch

        from . import history
        from .links import SIGNATURE
        from .models import PortalSettings

        history.register()  # the settings' history; what a contact merge does with our rows
        watch(SIGNATURE, PortalSettings)  # pages and mail read the settings from the cache
