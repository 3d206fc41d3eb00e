from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "sportello.contacts"
    label = "contacts"

    def ready(self) -> None:
        from .services import register_own_references

        register_own_references()  # what a merge moves of this app's own (`merging`)
