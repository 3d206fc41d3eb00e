"""The OpenAPI document as a contract: find the operation a request hit and check the answer
against the schema it declares for that status."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema_rs

PREFIX = "/api/v1"


@functools.cache
def document() -> dict[str, Any]:
    from sportello.api import api

    # Through JSON, as clients see it (integer status keys become strings).
    return json.loads(json.dumps(api.get_openapi_schema()))


@functools.cache
def _path_patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for template in document()["paths"]:
        regex = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(f"^{regex}$"), template))
    # Literal segments win over placeholders (`/rules/export` before `/rules/{key}`).
    patterns.sort(key=lambda p: p[1].count("{"))
    return patterns


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The (template, operation) that `METHOD /api/v1/...` reaches; KeyError when none."""
    path = path.split("?")[0]
    for regex, template in _path_patterns():
        if regex.match(path) and method.lower() in document()["paths"][template]:
            return template, document()["paths"][template][method.lower()]
    raise KeyError(f"{method} {path} is not in the OpenAPI document")


@functools.cache
def _validator(schema_json: str) -> Any:
    schema = {**json.loads(schema_json), "components": document()["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def response_errors(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with this answer according to the document: an undeclared status, or a
    JSON body that does not match the declared schema. Empty when it conforms."""
    template, operation = operation_for(method, path)
    declared = operation["responses"].get(str(status))
    if declared is None:
        return [f"{method} {template}: status {status} is not declared"]
    content = declared.get("content") or {}
    if "application/json" not in content:
        return []  # no JSON schema to check (a file download, an SVG, 204)
    if not content_type.startswith("application/json"):
        return [f"{method} {template} {status}: declared JSON, answered {content_type}"]
    errors = schema_errors(content["application/json"]["schema"], json.loads(body))
    return [f"{method} {template} {status}: {e}" for e in errors]


def documented_examples() -> list[tuple[str, dict[str, Any], Any]]:
    """Every example in the document with the schema it illustrates: (where, schema, example)."""
    found: list[tuple[str, dict[str, Any], Any]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            schema = node.get("schema")
            if not isinstance(schema, dict):
                schema = node
            if "example" in node:
                found.append((where, schema, node["example"]))
            for example in node.get("examples") or []:
                if isinstance(node.get("examples"), list):
                    found.append((where, schema, example))
            if isinstance(node.get("examples"), dict):  # media type examples: {name: {value}}
                for name, example in node["examples"].items():
                    found.append((f"{where}.examples.{name}", schema, example.get("value")))
            for key, value in node.items():
                if key not in ("example", "examples"):
                    walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(document(), "$")
    return found
