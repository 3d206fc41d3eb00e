from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "sportello.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from sportello.core.config import watch
        from sportello.tickets.permissions import register_contact_scope

        from . import history, selectors
        from .links import SIGNATURE
        from .models import PortalSettings

        history.register()  # the settings' history; what a contact merge does with our rows
        watch(SIGNATURE, PortalSettings)
        # an organization's designated contacts read and answer its tickets
        register_contact_scope(
            "portal.designated", selectors.designated_scope
        )  # pages and mail read the settings from the cache
