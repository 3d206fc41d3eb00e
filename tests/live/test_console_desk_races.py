"""The Console's desk set-up at a live server, on SQLite and on PostgreSQL, each write fired by
many requests of an admin's browser session at once: a department or a field created under
one name or key is created once (the others are told inline that it exists); a layout saved
from the same page by many at once is saved once, the others told that someone saved it
meanwhile, and what is stored is exactly one of the layouts sent; concurrent edits of a
department or a field leave exactly one of the versions sent."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from live import LIVE
from live.server import LiveDesk, Reply

from .test_me_races import signed_in

pytestmark = LIVE

N = 10


def post(client: httpx.Client, path: str, data: dict[str, Any]) -> Reply:
    r = client.post(path, data=data, headers={"X-CSRFToken": client.cookies["csrftoken"]})
    return Reply(r.status_code, r.text)


def shell(live: LiveDesk, code: str) -> Any:
    out = live.server.manage("shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def departments_named(live: LiveDesk, name: str) -> list[list[Any]]:
    code = (
        "import json; from sportello.accounts.models import Department as D; "
        f"print(json.dumps([[d.pk, d.name, d.description] for d in D.objects.filter(name__iexact={name!r})]))"
    )
    rows: list[list[Any]] = shell(live, code)
    return rows


def field_rows(live: LiveDesk, key: str) -> list[list[Any]]:
    code = (
        "import json; from sportello.tickets.models import CustomField as F; "
        f"print(json.dumps([[f.pk, f.label, f.options] for f in F.objects.filter(key={key!r})]))"
    )
    rows: list[list[Any]] = shell(live, code)
    return rows


def layout_rows(live: LiveDesk, department_id: int) -> list[list[Any]]:
    code = (
        "import json; from sportello.tickets.models import LayoutField as L; "
        "print(json.dumps([[r.field.key, r.required, r.position, r.allowed_values] "
        f"for r in L.objects.filter(department_id={department_id}).select_related('field')]))"
    )
    rows: list[list[Any]] = shell(live, code)
    return rows


def test_a_department_created_by_many_requests_at_once_is_created_once(live: LiveDesk) -> None:
    client = signed_in(live)
    name = f"Race {uuid.uuid4().hex[:8]}"
    replies = live.race(
        N, lambda i: post(client, "/console/departments/", {"name": name, "description": f"d{i}"})
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    for r in replies:
        if r.status == 409:
            assert "A department with this name exists already." in r.body
            assert name in r.body  # what was typed is kept
    rows = departments_named(live, name)
    assert len(rows) == 1


def test_a_field_created_by_many_requests_at_once_is_created_once(live: LiveDesk) -> None:
    client = signed_in(live)
    key = f"race_{uuid.uuid4().hex[:8]}"
    replies = live.race(
        N,
        lambda i: post(
            client,
            "/console/fields/new/",
            {"label": f"Race {i}", "key": key, "type": "picklist", "options": "a\nb", "position": "0"},
        ),
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    assert all("A field with this key exists already." in r.body for r in replies if r.status == 409)
    assert len(field_rows(live, key)) == 1


def test_a_layout_saved_from_one_page_by_many_at_once_is_saved_once(live: LiveDesk) -> None:
    client = signed_in(live)
    suffix = uuid.uuid4().hex[:8]
    made = live.post("/departments", {"name": f"Layout race {suffix}"}, as_="admin")
    assert made.status == 201, made
    department_id = made.body["id"]
    key = f"sub_{suffix}"
    options = [{"value": f"v{i}", "label": f"V{i}"} for i in range(N)]
    field = live.post(
        "/fields", {"key": key, "label": "Sub", "type": "picklist", "options": options}, as_="admin"
    )
    assert field.status == 201, field
    page = client.get(f"/console/departments/{department_id}/layout/")
    assert page.status_code == 200
    found = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page.text)
    assert found is not None
    fingerprint = found.group(1)

    def save(i: int) -> Reply:
        # each request limits the field to a value of its own
        data = {
            "fingerprint": fingerprint,
            "row": [key],
            f"req-{key}": "to_solve",
            f"val-{key}": [f"v{i}"],
            "do": "save",
        }
        return post(client, f"/console/departments/{department_id}/layout/", data)

    replies = live.race(N, save)
    statuses = sorted(r.status for r in replies)
    assert statuses == [302] + [409] * (N - 1), statuses
    winner = next(i for i, r in enumerate(replies) if r.status == 302)
    for r in replies:
        if r.status == 409:
            assert "Someone saved this layout since you opened it." in r.body
    assert layout_rows(live, department_id) == [[key, "to_solve", 0, [f"v{winner}"]]]


def test_concurrent_edits_of_a_department_and_a_field_leave_one_of_them(live: LiveDesk) -> None:
    client = signed_in(live)
    suffix = uuid.uuid4().hex[:8]
    made = live.post("/departments", {"name": f"Edit race {suffix}"}, as_="admin")
    assert made.status == 201, made
    department_id = made.body["id"]
    key = f"edit_{suffix}"
    field = live.post(
        "/fields", {"key": key, "label": "Edit", "type": "picklist", "options": [{"value": "a"}]}, as_="admin"
    )
    assert field.status == 201, field
    field_id = field.body["id"]

    def edit_department(i: int) -> Reply:
        data = {"name": f"Edit race {suffix}", "description": f"version {i}", "is_active": "on"}
        return post(client, f"/console/departments/{department_id}/", data)

    replies = live.race(N, edit_department)
    assert [r.status for r in replies] == [302] * N
    (row,) = departments_named(live, f"Edit race {suffix}")
    assert row[2] in {f"version {i}" for i in range(N)}

    def edit_field(i: int) -> Reply:
        data = {"label": f"Label {i}", "options": f"a\nb{i}", "position": "0", "is_active": "on"}
        return post(client, f"/console/fields/{field_id}/", data)

    replies = live.race(N, edit_field)
    assert [r.status for r in replies] == [302] * N
    ((_pk, label, stored),) = field_rows(live, key)
    i = int(label.removeprefix("Label "))
    assert stored == [{"value": "a", "label": "a"}, {"value": f"b{i}", "label": f"b{i}"}]
