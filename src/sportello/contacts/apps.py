from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "sportello.contacts"
    label = "contacts"
