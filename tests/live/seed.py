"""Seeds a live server's fresh database through the real services and commands, then prints what
the tests need (ids and API tokens) as one JSON line. Run as a script with the app's settings
and the server's environment (`DATABASE_URL`, `SPORTELLO_DATA_DIR`): it migrates the new database
(`sportello migrate`) first.

The desk: two departments (Support, Billing), an admin (made by `sportello createadmin`), two
agents of both departments and a light agent of Support, a customer, and a mailbox of Support
so mail can be ingested; a token per person."""

from __future__ import annotations

import io
import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from sportello.accounts.models import Role, User
    from sportello.accounts.services import agent_create, department_create, token_create
    from sportello.channels.mailboxes import mailbox_create
    from sportello.contacts.services import contact_create
    from sportello.core import clock

    call_command("migrate", interactive=False, verbosity=0)
    now = clock.now()
    call_command(
        "createadmin", email="admin@live.test", password="live-admin-passphrase-1", stdout=io.StringIO()
    )
    admin = User.objects.get(email="admin@live.test")
    support = department_create(name="Support", actor=admin)
    billing = department_create(name="Billing", actor=admin)
    agents = [
        agent_create(
            email=f"agent{i}@live.test", name=f"Agent {i}", role=Role.AGENT, departments=[support, billing]
        )
        for i in (1, 2)
    ]
    light = agent_create(
        email="light@live.test", name="Lia Light", role=Role.LIGHT_AGENT, departments=[support]
    )
    customer = contact_create(email="carla@customer.test", name="Carla Customer")
    mailbox = mailbox_create(
        actor=admin, data={"address": "support@live.test", "department_id": support.pk}, now=now
    )

    def token(user: User) -> str:
        return token_create(user=user, name="live", now=now)[1]

    print(
        json.dumps(
            {
                "departments": {"support": support.pk, "billing": billing.pk},
                "people": {
                    "admin": admin.pk,
                    "agent": agents[0].pk,
                    "agent2": agents[1].pk,
                    "light": light.pk,
                },
                "tokens": {
                    "admin": token(admin),
                    "agent": token(agents[0]),
                    "agent2": token(agents[1]),
                    "light": token(light),
                },
                "customer": {"id": customer.pk, "email": customer.email},
                "mailbox": mailbox.address,
            }
        )
    )


if __name__ == "__main__":
    main()
