"""What customers may do with a layout's field, changed while customers open tickets, at a live
server on SQLite and on PostgreSQL: an admin flips a field between "customers can fill" and
"customers can see" over HTTP while a customer opens ticket after ticket setting that field in
another process. Every attempt either opened a ticket holding exactly the value sent or was
refused naming the field with nothing written; the layout holds what the last save sent."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from live import LIVE
from live.server import LiveDesk

pytestmark = LIVE

ATTEMPTS = 25  # at least; more until both outcomes were seen (at most ATTEMPTS_MAX)
ATTEMPTS_MAX = 200
FLIPS = 10


def customer_attempts(live: LiveDesk, contact_id: int, department_id: int, key: str) -> list[Any]:
    """The customer's attempts, each a ticket id or the refusal (field, message), in order: at
    least ATTEMPTS, a moment apart, and more until one was let through and one refused."""
    code = "\n".join(
        [
            "import json",
            "from sportello.contacts.models import Contact",
            "from sportello.core import clock",
            "from sportello.core.actors import Via",
            "from sportello.core.errors import ValidationFailed",
            "from sportello.tickets import services",
            f"alice = Contact.objects.get(pk={contact_id})",
            "import time",
            "out = []",
            "i = 0",
            "seen = set()",
            f"while i < {ATTEMPTS} or (len(seen) < 2 and i < {ATTEMPTS_MAX}):",
            "    time.sleep(0.05)  # spread over the admin's flips",
            "    data = {'subject': f'Access race {i}', 'description': 'Mine.',",
            f"            'department_id': {department_id}, 'custom_fields': {{{key!r}: f'v{{i}}'}}}}",
            "    try:",
            "        t = services.ticket_open(principal=alice, via=Via.PORTAL, data=data, now=clock.now())",
            "        out.append(t.ticket.pk)",
            "        seen.add('opened')",
            "    except ValidationFailed as exc:",
            "        out.append([exc.field, exc.message])",
            "        seen.add('refused')",
            "    i += 1",
            "print(json.dumps(out))",
        ]
    )
    out = live.server.manage("shell", "-c", code)
    attempts: list[Any] = json.loads(out.strip().splitlines()[-1])
    return attempts


def stored(live: LiveDesk, contact_id: int, department_id: int, key: str) -> dict[str, Any]:
    code = (
        "import json; from sportello.tickets.models import Ticket, LayoutField as L; "
        f"ts = Ticket.objects.filter(requester_id={contact_id}, department_id={department_id}); "
        "print(json.dumps({'tickets': {str(t.pk): [t.subject, t.custom_fields] for t in ts}, "
        "'layout': [[r.field.key, r.customer_access] "
        f"for r in L.objects.filter(department_id={department_id})]}}))"
    )
    out = live.server.manage("shell", "-c", code)
    found: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return found


def test_a_customer_sets_a_field_while_an_admin_changes_what_customers_may_do(live: LiveDesk) -> None:
    suffix = uuid.uuid4().hex[:8]
    made = live.post("/departments", {"name": f"Access race {suffix}"}, as_="admin")
    assert made.status == 201, made
    department_id = made.body["id"]
    key = f"ref_{suffix}"
    field = live.post("/fields", {"key": key, "label": "Reference", "type": "text"}, as_="admin")
    assert field.status == 201, field
    contact = live.contact(f"access-{suffix}@example.test")

    def layout(access: str) -> Any:
        body = {"fields": [{"field": key, "customer_access": access}]}
        return live.put(f"/departments/{department_id}/layout", body, as_="admin")

    assert layout("edit").status == 200
    results: dict[str, Any] = {}

    def customer() -> None:
        results["attempts"] = customer_attempts(live, contact["id"], department_id, key)

    thread = threading.Thread(target=customer)
    thread.start()
    sent: list[str] = []
    statuses: list[int] = []
    # flip for as long as the customer writes, and at least FLIPS times
    i = 0
    while i < FLIPS or thread.is_alive():
        access = "read" if i % 2 == 0 else "edit"
        statuses.append(layout(access).status)
        sent.append(access)
        i += 1
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert statuses == [200] * len(sent)

    attempts = results["attempts"]
    assert ATTEMPTS <= len(attempts) <= ATTEMPTS_MAX
    opened = {i: a for i, a in enumerate(attempts) if isinstance(a, int)}
    refused = [a for a in attempts if not isinstance(a, int)]
    # the flips landed between the customer's attempts
    assert opened
    assert refused
    assert all(
        r == [f"custom_fields.{key}", "cannot be set by customers in this department"] for r in refused
    )
    found = stored(live, contact["id"], department_id, key)
    # exactly the tickets opened, each with the value its attempt sent; none for a refusal
    assert found["tickets"] == {str(pk): [f"Access race {i}", {key: f"v{i}"}] for i, pk in opened.items()}
    # the layout holds what the last save sent
    assert found["layout"] == [[key, sent[-1]]]
