from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "sportello.accounts"
    label = "accounts"

    def ready(self) -> None:
        from sportello.core.config import watch

        from .models import Department, Team, User
        from .structure import DESK, USER_UNWATCHED

        watch(DESK, Department, Team, User.departments.through, Team.members.through)  # accounts.structure
        watch(DESK, User, unwatched=USER_UNWATCHED)

        from . import history  # noqa: F401  (registers departments, agents and teams as snapshot kinds)
