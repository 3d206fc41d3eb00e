"""Console > Satisfaction survey: an admin sets a department's survey; errors inline; agents
may not."""

from __future__ import annotations

from typing import Any

from sportello.surveys.models import SurveyPolicy


def form(**values: Any) -> dict[str, Any]:
    return {
        "enabled": "on", "delay_minutes": "30", "channels": ["email", "portal"], "scale": "five",
        "ask_nps": "on", "reminder_hours": "", "window_days": "7", **values,
    }  # fmt: skip


def test_an_admin_sets_a_departments_survey(desk: Any, browser: Any) -> None:
    client = browser(desk.admin)
    page = client.get(f"/console/surveys/?department={desk.books.pk}")
    assert page.status_code == 200
    assert "Satisfaction survey" in page.content.decode()
    r = client.post(f"/console/surveys/?department={desk.books.pk}", form())
    assert r.status_code == 302
    policy = SurveyPolicy.objects.get(department=desk.books)
    assert (policy.enabled, policy.delay_minutes, policy.scale, policy.ask_nps, policy.window_days) == (
        True, 30, "five", True, 7,
    )  # fmt: skip
    # a reminder after the window ends: an inline error, nothing saved
    r = client.post(f"/console/surveys/?department={desk.books.pk}", form(reminder_hours="200"))
    assert r.status_code == 422
    assert 'id="id_reminder_hours-error"' in r.content.decode()
    assert SurveyPolicy.objects.get(department=desk.books).reminder_hours is None


def test_agents_may_not_open_it(desk: Any, browser: Any) -> None:
    assert browser(desk.agent).get("/console/surveys/").status_code == 403
    assert not SurveyPolicy.objects.exists()
