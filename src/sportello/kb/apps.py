from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "sportello.kb"
    label = "kb"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        # history registers categories, sections and articles as snapshot kinds
        from . import history  # noqa: F401
