"""Fixtures of the blueprint tests: the Returns process of the reference on the desk's Books
department, with its custom fields in the department's layout, and helpers to open tickets and
perform transitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from workflow_setup import returns_definition, returns_fields


@pytest.fixture
def fields(desk: Any) -> None:
    returns_fields(desk)


@pytest.fixture
def save_blueprint(desk: Any, now: datetime) -> Callable[..., Any]:
    from sportello.blueprints.services import blueprint_save

    def save(definition: dict[str, Any]) -> Any:
        row, _ = blueprint_save(definition=definition, actor=desk.admin, now=now)
        return row

    return save


@pytest.fixture
def returns(desk: Any, fields: None, save_blueprint: Callable[..., Any]) -> Any:
    return save_blueprint(returns_definition(desk))


@pytest.fixture
def open_ticket(desk: Any, now: datetime) -> Callable[..., Any]:
    """A ticket opened by the Books agent through the ticket service (as the API does)."""
    from sportello.core.actors import Via
    from sportello.tickets import services

    def make(*, kind: str | None = "return", at: datetime = now, **data: Any) -> Any:
        body = {
            "subject": "Wrong size",
            "description": "I want to send it back.",
            "department_id": desk.books.pk,
            "requester_id": desk.alice.pk,
            **data,
        }
        if kind is not None:
            body["custom_fields"] = {**body.get("custom_fields", {}), "kind": kind}
        return services.ticket_open(principal=desk.agent, via=Via.API, data=body, now=at).ticket

    return make


@pytest.fixture
def transition(desk: Any, now: datetime) -> Callable[..., Any]:
    """`transition(ticket, "label-sent", by=desk.agent, custom_fields=..., note=..., at=...)`."""
    from sportello.blueprints.services import TransitionRequest, blueprint_transition

    def perform(ticket: Any, key: str, *, by: Any = None, at: datetime = now, **inputs: Any) -> Any:
        return blueprint_transition(
            actor=by or desk.agent,
            ticket_id=ticket.pk,
            transition_key=key,
            inputs=TransitionRequest(**inputs),
            now=at,
        )

    return perform
