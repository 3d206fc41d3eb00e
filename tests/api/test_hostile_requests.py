"""Hostile requests get a JSON answer that names the problem, never a 500 or an HTML page:
bodies over the size limit (refused before they are read or the token is checked), input
nested too deep in JSON, YAML or custom fields, and every error Django itself answers under
/api/ (unknown path, wrong method, disallowed host, CSRF failure, an unexpected exception)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory

from sportello.core.http import csrf_failure
from sportello.engine.schema import NESTING_MAX

BODY_MAX_BYTES = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_yaml(depth: int) -> str:
    return (
        "rules:\n"
        + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
        + "  " * (depth + 1)
        + "x: 1\n"
    )


def assert_error(response: Any, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)["error"]
    assert body["code"] == code
    assert words in body["message"]


def test_a_body_over_the_limit_is_413_before_the_token_is_checked(db: Any) -> None:
    client = Client()
    body = json.dumps({"subject": "x" * (BODY_MAX_BYTES + 1)})
    r = client.post("/api/v1/tickets", data=body, content_type="application/json")  # no token
    assert_error(r, 413, "payload_too_large", f"{BODY_MAX_BYTES} bytes")


def test_a_body_over_the_limit_is_413_for_an_authenticated_caller(as_role: Any) -> None:
    body = json.dumps({"subject": "x" * (BODY_MAX_BYTES + 1)})
    r = as_role("admin").post("/tickets", body)
    assert_error(r, 413, "payload_too_large", "larger than")


def test_a_body_just_under_the_limit_is_read(as_role: Any) -> None:
    body = json.dumps({"name": "x" * (BODY_MAX_BYTES - 100)})
    r = as_role("admin").post("/departments", body)
    assert r.status_code == 422  # read and validated (the name is too long), not refused unread


@pytest.mark.parametrize("depth", [NESTING_MAX + 1, 1_000, 5_000])
def test_custom_fields_nested_too_deep_are_400(as_role: Any, desk: Any, depth: int) -> None:
    body = json.dumps(
        {
            "subject": "Deep",
            "description": "d",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            "custom_fields": {"a": "DEEP"},
        }
    ).replace('"DEEP"', nested_json(depth))
    r = as_role("admin").post("/tickets", body)
    assert_error(r, 400, "bad_request", f"nested deeper than {NESTING_MAX} levels")


def test_json_nested_up_to_the_limit_is_accepted_by_the_parser(as_role: Any) -> None:
    # `{"name": [[...]]}`: the parser takes it, validation refuses a list for a name
    body = json.dumps({"name": "DEEP"}).replace('"DEEP"', nested_json(NESTING_MAX - 1))
    r = as_role("admin").post("/departments", body)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/rules/import"),
        ("post", "/rules"),
        ("post", "/rules/simulate"),
        ("post", "/macros"),
        ("post", "/assignment-policies"),
        ("post", "/sla-policies"),
        ("post", "/blueprints"),
        ("post", "/blueprints/import"),
        ("post", "/tickets"),
        ("put", "/departments/1/layout"),
    ],
)
@pytest.mark.parametrize("depth", [400, 5_000])
def test_json_nested_too_deep_is_400_everywhere(as_role: Any, method: str, path: str, depth: int) -> None:
    body = json.dumps({"a": "DEEP"}).replace('"DEEP"', nested_json(depth))
    r = getattr(as_role("admin"), method)(path, body)
    assert_error(r, 400, "bad_request", f"nested deeper than {NESTING_MAX} levels")


@pytest.mark.parametrize("text", [nested_yaml(400), "rules: " + nested_json(5_000)], ids=["block", "flow"])
def test_rules_yaml_nested_too_deep_is_400(as_role: Any, text: str) -> None:
    client = as_role("admin")
    r = client.client.post(
        "/api/v1/rules/import",
        data="schema: sportello/rules/v1\n" + text,
        content_type="application/yaml",
        headers=client.headers,
    )
    assert_error(r, 400, "bad_request", "nested deeper than")


def test_an_unknown_api_path_is_json_404(db: Any) -> None:
    assert_error(Client().get("/api/v1/no-such-thing"), 404, "not_found", "no such endpoint")


def test_a_wrong_method_is_json_405_with_allow(as_role: Any) -> None:
    r = as_role("admin").client.delete("/api/v1/departments", headers=as_role("admin").headers)
    assert_error(r, 405, "method_not_allowed", "not allowed")
    assert "GET" in r["Allow"]


def test_a_disallowed_host_is_json_400(db: Any) -> None:
    r = Client().get("/api/v1/departments", HTTP_HOST="evil.example")
    assert_error(r, 400, "bad_request", "bad request")


def test_a_csrf_failure_under_the_api_is_json_403() -> None:
    assert django_settings.CSRF_FAILURE_VIEW == "sportello.core.http.csrf_failure"
    r = csrf_failure(RequestFactory().post("/api/v1/tickets"), reason="CSRF cookie not set.")
    assert_error(r, 403, "permission_denied", "CSRF verification failed: CSRF cookie not set.")
    assert csrf_failure(RequestFactory().post("/login"), reason="x")["Content-Type"].startswith("text/html")


def test_an_unexpected_exception_is_json_500_even_in_debug(
    as_role: Any, settings: Any, monkeypatch: Any
) -> None:
    from sportello.accounts import api as accounts_api

    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts_api.selectors, "department_list", boom)
    settings.DEBUG = True
    client = as_role("admin")
    client.client.raise_request_exception = False
    r = client.get("/departments")
    assert_error(r, 500, "internal_error", "internal error")
    assert b"boom" not in r.content
