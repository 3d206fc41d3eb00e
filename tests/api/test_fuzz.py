"""A fuzzing run of the whole API: for every operation of the OpenAPI document, schemathesis
generates requests (valid and invalid) and each is sent as the admin, an agent and a light agent.
No answer may be a server error, and every answer must be declared by the document with that
status and shape (`openapi_contract.response_errors`).

It runs when `SPORTELLO_FUZZ_EXAMPLES` (the examples per operation) is set: `make fuzz`.
About a second per operation and example on one core."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from openapi_contract import document, response_errors

EXAMPLES = int(os.environ.get("SPORTELLO_FUZZ_EXAMPLES", "0"))

pytestmark = pytest.mark.skipif(EXAMPLES < 1, reason="the fuzzing run: make fuzz (SPORTELLO_FUZZ_EXAMPLES)")

schema = schemathesis.openapi.from_dict(document())


def send(client: Any, case: Any, token: str) -> Any:
    headers = {str(k): str(v) for k, v in (case.headers or {}).items() if str(k).lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}"
    path = case.formatted_path
    if case.query:
        path = f"{path}?{_query(case.query)}"
    data: bytes | str = b""
    content_type = "application/octet-stream"
    if case.body is not None and not isinstance(case.body, schemathesis.core.NotSet):
        content_type = case.media_type or "application/json"
        if isinstance(case.body, bytes) or (
            isinstance(case.body, str) and content_type != "application/json"
        ):
            data = case.body
        else:
            data = json.dumps(case.body)
    # `generic` for every method: a GET may carry a body too (schemathesis tries it)
    return client.generic(case.method.upper(), path, data=data, content_type=content_type, headers=headers)


def _query(query: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    pairs = []
    for key, value in query.items():
        for v in value if isinstance(value, list) else [value]:
            pairs.append((key, json.dumps(v) if isinstance(v, dict | bool | None) else str(v)))
    return urlencode(pairs)


@pytest.fixture
def tokens(desk: Any, token_for: Any) -> dict[str, str]:
    return {"admin": token_for(desk.admin), "agent": token_for(desk.agent), "light": token_for(desk.light)}


@schema.parametrize()
@settings(
    max_examples=max(EXAMPLES, 1),
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_fuzz_no_server_error_and_every_answer_as_documented(
    case: Any, tokens: dict[str, str], client: Any
) -> None:
    client.raise_request_exception = False
    for role, token in tokens.items():  # the same request as each role
        r = send(client, case, token)
        content = b"".join(r.streaming_content) if r.streaming else r.content
        where = (role, case.method, case.formatted_path, case.query, case.body, content[:300])
        assert r.status_code < 500, where
        if case.method.lower() not in document()["paths"][case.operation.path]:  # an undocumented method
            assert 400 <= r.status_code < 500, where
            assert set(json.loads(content)["error"]) >= {"code", "message", "field"}
            continue
        ctype = r.get("Content-Type", "")
        assert response_errors(case.method, case.formatted_path, r.status_code, ctype, content) == [], where
