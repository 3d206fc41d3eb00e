from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "sportello.surveys"
    label = "surveys"
    verbose_name = "Satisfaction surveys"
