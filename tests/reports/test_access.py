"""Who reads reports: admins every department's, supervisors their own departments', nobody
else; the Console and the API set the supervisor flag, and its history restores it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.accounts.services import agent_update
from sportello.core.errors import PermissionDenied
from sportello.reports.access import report_scope

pytestmark = pytest.mark.django_db


def test_scope_by_role(desk: Any) -> None:
    assert report_scope(desk.admin).everything
    with pytest.raises(PermissionDenied):
        report_scope(desk.agent)
    with pytest.raises(PermissionDenied):
        report_scope(desk.light)
    supervisor = agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    scope = report_scope(supervisor)
    assert scope.department_ids == {desk.books.pk}
    assert scope.allows(desk.books.pk)
    assert not scope.allows(desk.electronics.pk)
    # A light agent marked supervisor still reads no reports; nor does a deactivated supervisor.
    with pytest.raises(PermissionDenied):
        report_scope(agent_update(agent=desk.light, actor=desk.admin, supervisor=True))
    with pytest.raises(PermissionDenied):
        report_scope(agent_update(agent=desk.agent, actor=desk.admin, is_active=False))


def test_reports_page_and_nav(desk: Any) -> None:
    client = Client()
    client.force_login(desk.agent)
    assert client.get("/reports/").status_code == 403
    assert "/reports/" not in client.get("/").content.decode()
    agent_update(agent=desk.agent, actor=desk.admin, supervisor=True)
    assert client.get("/reports/").status_code == 200
    assert 'href="/reports/"' in client.get("/").content.decode()
    anonymous = Client().get("/reports/")
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]


def test_console_sets_supervisor(desk: Any) -> None:
    client = Client()
    client.force_login(desk.admin)
    page = client.get(f"/console/people/agents/{desk.agent.pk}/")
    assert 'name="supervisor"' in page.content.decode()
    response = client.post(
        f"/console/people/agents/{desk.agent.pk}/",
        {"name": desk.agent.name, "role": "agent", "supervisor": "on", "departments": [desk.books.pk]},
    )
    assert response.status_code == 302
    desk.agent.refresh_from_db()
    assert desk.agent.supervisor
    client.post(
        f"/console/people/agents/{desk.agent.pk}/",
        {"name": desk.agent.name, "role": "agent", "departments": [desk.books.pk]},
    )
    desk.agent.refresh_from_db()
    assert not desk.agent.supervisor


def test_api_sets_supervisor_and_history_restores_it(desk: Any, as_role: Any) -> None:
    from sportello.core.snapshots import snapshot_rows

    admin = as_role("admin")
    response = admin.patch(f"/agents/{desk.agent.pk}", {"supervisor": True})
    assert response.status_code == 200, response.content
    assert response.json()["supervisor"] is True
    assert admin.get(f"/agents/{desk.outsider.pk}").json()["supervisor"] is False
    latest = snapshot_rows("agents", desk.agent.email).order_by("-version").first()
    assert latest is not None
    assert latest.definition.get("supervisor") is True
    admin.patch(f"/agents/{desk.agent.pk}", {"supervisor": False})
    desk.agent.refresh_from_db()
    assert not desk.agent.supervisor
