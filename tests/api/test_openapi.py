"""The OpenAPI document tells the truth: one schema per name, every documented example valid,
every operation declares the errors it can answer. (Every operation's real answers are checked
against the document in `test_permission_matrix.py`, one row per operation.)"""

from __future__ import annotations

import typing
from collections import defaultdict
from typing import Any

import pydantic
import pytest

from openapi_contract import document, documented_examples, response_errors, schema_errors
from sportello.api import api, error_statuses

# Ninja's per-operation wrappers: inlined into each operation, never a shared component.
_WRAPPERS = {"NinjaResponseSchema", "QueryParams", "PathParams", "BodyParams", "FormParams", "FileParams",
             "HeaderParams", "CookieParams"}  # fmt: skip


def _models_in(annotation: Any, seen: set[type]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for field in annotation.model_fields.values():
            _models_in(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        _models_in(arg, seen)


def api_models() -> set[type[pydantic.BaseModel]]:
    """Every pydantic model an operation takes or answers, however deeply nested."""
    seen: set[type] = set()
    for _, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in [*operation.models, *operation.response_models.values()]:
                    _models_in(model, seen)
    return {m for m in seen if m.__name__ not in _WRAPPERS}


def test_no_two_api_schemas_share_a_name() -> None:
    # Ninja names a component by its class name: two classes of one name become one component
    # and one of them is described with the other's shape.
    by_name: dict[str, set[str]] = defaultdict(set)
    for model in api_models():
        by_name[model.__name__].add(f"{model.__module__}.{model.__qualname__}")
    assert {name: sorted(where) for name, where in by_name.items() if len(where) > 1} == {}


def test_every_component_is_the_schema_of_the_class_of_that_name() -> None:
    components = document()["components"]["schemas"]
    for model in api_models():
        if model.__name__ in components and not model.__pydantic_generic_metadata__["args"]:
            title = components[model.__name__].get("title")
            assert title in (model.__name__, model.model_config.get("title")), model


def test_previews_and_imports_are_described_with_their_own_shapes() -> None:
    paths = document()["paths"]

    def answer(path: str, method: str) -> dict[str, Any]:
        ref = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return document()["components"]["schemas"][ref.rsplit("/", 1)[1]]

    def body(path: str, method: str) -> dict[str, Any]:
        ref = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return document()["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert set(answer("/api/v1/macros/{macro_key}/preview", "post")["properties"]) == {
        "macro", "version", "changes", "message", "effects"}  # fmt: skip
    assert set(answer("/api/v1/notification-templates/{key}/preview", "post")["properties"]) == {
        "key", "language", "source", "subject", "text", "html"}  # fmt: skip
    assert set(body("/api/v1/notification-templates/{key}/preview", "post")["properties"]) > {"ticket_id"}
    assert set(answer("/api/v1/rules/{key}/preview", "get")["properties"]) == {
        "rule", "version", "until", "items", "truncated"}  # fmt: skip
    assert "warnings" in answer("/api/v1/rules/import", "post")["properties"]
    sla = answer("/api/v1/sla-policies/{sla_key}", "get")["properties"]
    assignment = answer("/api/v1/assignment-policies/{policy_key}", "get")["properties"]
    assert set(sla) == {"key", "name", "position", "active", "version", "definition", "updated_at"}
    assert set(assignment) == {
        "id", "key", "name", "version", "active", "definition", "created_at", "updated_at"}  # fmt: skip


def test_every_documented_example_matches_its_schema() -> None:
    examples = documented_examples()
    assert examples  # at least the error example
    problems = [(where, schema_errors(schema, example)) for where, schema, example in examples]
    assert [(where, errors) for where, errors in problems if errors] == []


def test_every_operation_declares_the_errors_it_can_answer() -> None:
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            declared = {int(s) for s in operation["responses"] if s.startswith("4")}
            assert declared >= set(error_statuses(method, operation)), (method, path)
            assert 429 in declared
            if operation.get("security"):
                assert {401, 403} <= declared, (method, path)
            if "{" in path:
                assert 404 in declared, (method, path)


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "errors"),
    [
        ("GET", "/api/v1/tasks/1", 200, b'{"id": "x"}', True),
        ("GET", "/api/v1/tasks/1", 418, b"{}", True),
        (
            "GET",
            "/api/v1/tasks/1",
            404,
            b'{"error": {"code": "not_found", "message": "m", "field": null}}',
            False,
        ),
    ],
)
def test_the_contract_checker_catches_a_wrong_answer(
    method: str, path: str, status: int, body: bytes, errors: bool
) -> None:
    assert bool(response_errors(method, path, status, "application/json", body)) is errors
