from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "sportello.channels"
    label = "channels"
