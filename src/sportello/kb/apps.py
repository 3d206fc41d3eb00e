from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "sportello.kb"
    label = "kb"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        # history registers categories, sections and articles as snapshot kinds
        from . import contact_merge, history  # noqa: F401

        contact_merge.register()  # a contact merge moves their votes
