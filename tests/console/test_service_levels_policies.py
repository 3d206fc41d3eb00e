"""The Console's SLA policies: admins only; the list in match order (fixed statements); the
editor reads what a policy applies to, its targets per metric and priority, business hours of a
calendar, pauses, warnings and escalations into the policy kind's definition, shows mistakes
next to their fields keeping what was typed, and refuses a stale form without writing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sportello.sla.calendars import calendar_save
from sportello.sla.models import SlaPolicy
from sportello.sla.services import policy_definition, policy_save

STANDARD = {
    "key": "standard",
    "name": "Standard",
    "position": 100,
    "targets": {"first_response": {"normal": {"within": "8h"}}, "resolution": {"normal": {"within": "3d"}}},
}
ROME = {"key": "rome", "name": "Rome office", "time_zone": "Europe/Rome",
        "weekly": {"mon": [["09:00", "18:00"]]}}  # fmt: skip


@pytest.fixture
def standard(desk: Any, now: Any) -> SlaPolicy:
    return policy_save(definition=STANDARD, actor=desk.admin, now=now, create=True)[0]


@pytest.fixture
def rome(desk: Any, now: Any) -> Any:
    return calendar_save(definition=ROME, actor=desk.admin, now=now, create=True)[0]


PAGES = ["/console/sla-policies/", "/console/sla-policies/new/", "/console/sla-policies/standard/"]


def vip_form(**extra: Any) -> dict[str, Any]:
    return {
        "key": "vip", "name": "VIP customers", "position": "10", "when_mode": "vip", "calendar": "rome",
        "t-first_response-normal": "1h", "t-first_response-urgent": "15m", "t-resolution-normal": "1d",
        "pause_in": ["pending", "on_hold"],
        "warnings_yaml": "- {at_percent: 80}\n",
        "escalations_yaml": "- after_breach: 0m\n  actions:\n    - add_tags: [sla_breached]\n",
        **extra,
    }  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_an_admin_opens_each_policy_page(standard: Any, desk: Any, browser: Any, path: str) -> None:
    assert browser(desk.admin).get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["agent", "light"])
def test_agents_get_the_403_page(
    standard: Any, desk: Any, browser: Any, settings: Any, path: str, role: str
) -> None:
    settings.DEBUG = False
    assert browser(getattr(desk, role)).get(path).status_code == 403
    assert browser(getattr(desk, role)).post(path, vip_form()).status_code == 403
    assert list(SlaPolicy.objects.values_list("key", "version")) == [("standard", 1)]


@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_go_to_the_login_page(standard: Any, path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/login/?next=")


def test_a_vip_policy_on_business_hours_is_saved_through_the_policy_kind(
    rome: Any, desk: Any, browser: Any
) -> None:
    r = browser(desk.admin).post("/console/sla-policies/new/", vip_form())
    assert r.status_code == 302
    assert r["Location"] == "/console/sla-policies/vip/"
    saved = SlaPolicy.objects.get(key="vip")
    assert (saved.name, saved.position, saved.version) == ("VIP customers", 10, 1)
    definition = policy_definition(saved)
    assert definition["calendar"] == "rome"
    assert definition["targets"] == {
        "first_response": {
            "normal": {"within": "1h", "business": True},
            "urgent": {"within": "15m", "business": True},
        },
        "resolution": {"normal": {"within": "1d", "business": True}},
    }
    assert definition["when"] == {
        "any": [
            {"field": "requester.vip", "op": "is", "value": True},
            {"field": "organization.vip", "op": "is", "value": True},
        ]
    }
    every = ["first_response", "next_response", "periodic_update", "resolution"]
    assert definition["warnings"] == [{"at_percent": 80, "metrics": every}]
    assert definition["escalations"][0]["after_breach"] == "0d"  # as the engine writes it
    # the editor shows it back as it was typed
    html = browser(desk.admin).get("/console/sla-policies/vip/").content.decode()
    assert 'id="when-vip" name="when_mode" value="vip" checked' in html
    assert 'name="t-first_response-urgent" value="15m"' in html
    assert '<option value="rome" selected>' in html


def test_the_list_is_in_match_order_and_costs_fixed_statements(
    standard: Any, rome: Any, desk: Any, browser: Any, now: Any, django_assert_num_queries: Any
) -> None:
    client = browser(desk.admin)
    assert client.post("/console/sla-policies/new/", vip_form()).status_code == 302
    client.get("/console/sla-policies/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        r = client.get("/console/sla-policies/")
    html = r.content.decode()
    assert html.index('id="policy-vip"') < html.index('id="policy-standard"')
    assert "Business hours (Rome office)" in html
    assert "VIP customers" in html
    for i in range(3):
        policy_save(definition={**STANDARD, "key": f"p{i}", "position": 50 + i}, actor=desk.admin, now=now)
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert client.get("/console/sla-policies/").status_code == 200


def test_mistakes_are_shown_next_to_their_fields_and_nothing_typed_is_lost(
    standard: Any, desk: Any, browser: Any
) -> None:
    data = vip_form(name="", position="first", when_mode="custom", when_yaml="field: [",
                    **{"t-resolution-high": "soon"}, warnings_yaml="at_percent: 80", calendar="")  # fmt: skip
    r = browser(desk.admin).post("/console/sla-policies/new/", data)
    assert r.status_code == 422
    assert r.context["form"].errors == {
        "name": "Give the policy a name.",
        "position": "A whole number from 0: policies are tried from the lowest.",
        "when_yaml": "This is not valid YAML (line 1).",
        "t-resolution": "Write each target as a duration: 30m, 4h, 1h30m or 2d.",
        "warnings_yaml": "Write a list: each item starts with “- ”.",
    }
    html = r.content.decode()
    assert 'name="t-resolution-high" value="soon"' in html
    assert ">field: [</textarea>" in html
    assert not SlaPolicy.objects.filter(key="vip").exists()


def test_what_the_service_refuses_is_shown_on_its_field(standard: Any, desk: Any, browser: Any) -> None:
    # a calendar that does not exist; an escalation with an unknown action
    r = browser(desk.admin).post("/console/sla-policies/new/", vip_form(calendar="nowhere"))
    assert r.status_code == 422
    assert r.context["form"].errors == {"calendar": "no business calendar with the key 'nowhere'"}
    r = browser(desk.admin).post(
        "/console/sla-policies/new/",
        vip_form(calendar="", escalations_yaml="- after_breach: 0m\n  actions:\n    - explode: {}\n"),
    )
    assert r.status_code == 422
    assert list(r.context["form"].errors) == ["escalations_yaml"]


def test_a_stale_form_is_refused_keeping_what_was_typed_and_saying_what_changed(
    standard: Any, desk: Any, browser: Any, now: Any
) -> None:
    policy_save(definition={**STANDARD, "targets": {"first_response": {"normal": {"within": "6h"}}}},
                actor=desk.admin, now=now)  # fmt: skip
    data = {"name": "Standard (renamed)", "position": "100", "when_mode": "all", "version": "1",
            "t-first_response-normal": "2h"}  # fmt: skip
    r = browser(desk.admin).post("/console/sla-policies/standard/", data)
    assert r.status_code == 409
    assert SlaPolicy.objects.get(key="standard").version == 2
    html = r.content.decode()
    assert "Someone saved this policy after you opened it." in html
    assert "They changed: targets." in html
    assert 'value="Standard (renamed)"' in html
    assert '<input type="hidden" name="version" value="2">' in html
    r = browser(desk.admin).post("/console/sla-policies/standard/", {**data, "version": "2"})
    assert r.status_code == 302
    saved = SlaPolicy.objects.get(key="standard")
    assert (saved.version, saved.name) == (3, "Standard (renamed)")
    assert policy_definition(saved)["targets"] == {
        "first_response": {"normal": {"within": "2h", "business": False}}
    }


def test_a_taken_key_is_an_error_on_the_key(standard: Any, desk: Any, browser: Any) -> None:
    r = browser(desk.admin).post("/console/sla-policies/new/", vip_form(key="standard", calendar=""))
    assert r.status_code == 409
    assert r.context["form"].errors == {"key": "A policy with this key exists already; choose another key."}
