from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sportello.web"
    label = "web"
