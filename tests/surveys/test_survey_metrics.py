"""`GET /api/v1/metrics/satisfaction`: CSAT, CES, NPS and response rates by group, in scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sportello.surveys.models import Survey
from sportello.surveys.services import survey_answer
from survey_helpers import fire, move, set_policy

HOUR = timedelta(hours=1)


def test_metrics_by_department_agent_and_tier(desk: Any, now: Any, open_ticket: Any, as_role: Any) -> None:
    set_policy(desk, now, scale="five", ask_ces=True, ask_nps=True)
    tickets = [move(desk, open_ticket(f"T{i}", assignee_id=desk.agent.pk), "solved", now) for i in range(5)]
    assert fire(now + HOUR) == ["sent"] * 5
    answers = [(5, 7, 10), (4, 6, 9), (2, 2, 3), (3, None, 7)]  # the fifth is not answered
    for ticket, (rating, ces, nps) in zip(tickets, answers, strict=False):
        survey = Survey.objects.get(ticket=ticket)
        survey_answer(survey=survey, rating=rating, ces=ces, nps=nps, now=now + 2 * HOUR)
    admin = as_role("admin")
    r = admin.get("/metrics/satisfaction", {"group_by": "department"})
    assert r.status_code == 200
    assert r.json() == {
        "group_by": "department",
        "items": [
            {
                "group": desk.books.pk,
                "offered": 5,
                "responses": 4,
                "response_rate": 80.0,
                "csat": 50.0,  # 5 and 4 good; 2 bad; 3 neutral
                "ces": 5.0,  # (7 + 6 + 2) / 3
                "nps": 25.0,  # promoters 2, detractors 1, of 4
                "nps_responses": 4,
            }
        ],
    }
    by_agent = admin.get("/metrics/satisfaction", {"group_by": "agent"}).json()["items"]
    assert [(i["group"], i["responses"]) for i in by_agent] == [(desk.agent.pk, 4)]
    by_tier = admin.get("/metrics/satisfaction", {"group_by": "tier"}).json()["items"]
    assert [(i["group"], i["offered"]) for i in by_tier] == [(None, 5)]
    # the period: offered before `since` is left out
    later = (now + 3 * HOUR).isoformat().replace("+00:00", "Z")
    assert admin.get("/metrics/satisfaction", {"since": later}).json()["items"] == []
    # an agent of another department sees none of Books'
    assert as_role("outsider").get("/metrics/satisfaction").json()["items"] == []
    assert as_role("agent").get("/metrics/satisfaction").json()["items"][0]["offered"] == 5
    bad = admin.get("/metrics/satisfaction", {"group_by": "team"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "group_by"


def test_the_policy_api_validates_and_keeps_history(desk: Any, as_role: Any) -> None:
    admin = as_role("admin")
    path = f"/departments/{desk.books.pk}/survey-policy"
    assert admin.get(path).json()["enabled"] is False  # off by default
    r = admin.put(path, {"enabled": True, "channels": [], "scale": "five"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "channels"
    r = admin.put(path, {"enabled": True, "reminder_hours": 400, "window_days": 14})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "reminder_hours"
    r = admin.put(path, {"enabled": True, "scale": "five", "ask_nps": True, "reminder_hours": 24})
    assert r.status_code == 200
    assert r.json() == {
        "department_id": desk.books.pk, "enabled": True, "delay_minutes": 60, "channels": ["email", "portal"],
        "scale": "five", "ask_ces": False, "ask_nps": True, "reminder_hours": 24, "window_days": 14,
    }  # fmt: skip
    from sportello.core.models import ConfigSnapshot

    (version,) = ConfigSnapshot.objects.filter(kind="survey_policies", key=desk.books.slug)
    assert (version.version, version.definition["scale"]) == (1, "five")
