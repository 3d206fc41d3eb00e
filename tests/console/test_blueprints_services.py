"""What the Console's blueprint editor adds to the blueprint services: a save that names the
version it edited (0: a new blueprint) is refused with StaleBlueprint when another came first,
and a check of a draft that validates as a save does and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sportello.blueprints.models import Blueprint, BlueprintVersion
from sportello.blueprints.services import StaleBlueprint, blueprint_check, blueprint_save
from sportello.core.errors import PermissionDenied, ValidationFailed
from workflow_setup import warranty_definition as warranty


def test_a_save_of_the_version_edited_goes_through(desk: Any, now: Any) -> None:
    row, written = blueprint_save(definition=warranty(desk), actor=desk.admin, now=now, expected_version=0)
    assert (row.version, written) == (1, True)
    row, written = blueprint_save(
        definition=warranty(desk, name="Warranty claims"), actor=desk.admin, now=now, expected_version=1
    )
    assert (row.version, row.name, written) == (2, "Warranty claims", True)


def test_a_new_blueprint_whose_key_exists_is_refused(desk: Any, now: Any) -> None:
    blueprint_save(definition=warranty(desk), actor=desk.admin, now=now)
    with pytest.raises(StaleBlueprint) as caught:
        blueprint_save(definition=warranty(desk, name="Other"), actor=desk.admin, now=now, expected_version=0)
    assert (caught.value.expected, caught.value.current, caught.value.field) == (0, 1, "key")
    assert Blueprint.objects.get(key="warranty").name == "Warranty claim"


def test_an_edit_of_an_older_version_is_refused(desk: Any, now: Any) -> None:
    blueprint_save(definition=warranty(desk), actor=desk.admin, now=now)
    blueprint_save(definition=warranty(desk, name="Second"), actor=desk.admin, now=now)
    with pytest.raises(StaleBlueprint) as caught:
        blueprint_save(definition=warranty(desk, name="Mine"), actor=desk.admin, now=now, expected_version=1)
    assert (caught.value.expected, caught.value.current, caught.value.code) == (1, 2, "stale_version")
    assert BlueprintVersion.objects.filter(blueprint__key="warranty").count() == 2


def test_an_edit_of_a_blueprint_that_does_not_exist_is_refused(desk: Any, now: Any) -> None:
    with pytest.raises(StaleBlueprint):
        blueprint_save(definition=warranty(desk), actor=desk.admin, now=now, expected_version=3)
    assert not Blueprint.objects.exists()


def test_a_check_validates_and_writes_nothing(desk: Any) -> None:
    bp = blueprint_check(definition=warranty(desk), actor=desk.admin)
    assert [s.key for s in bp.states] == ["received", "inspecting", "replaced", "rejected"]
    assert not Blueprint.objects.exists()
    bad = warranty(desk)
    bad["transitions"][0]["to"] = "nowhere"
    with pytest.raises(ValidationFailed) as caught:
        blueprint_check(definition=bad, actor=desk.admin)
    assert caught.value.field == "transitions[0].to"


@pytest.mark.parametrize("role", ["agent", "light"])
def test_only_admins_check_a_draft(desk: Any, role: str) -> None:
    with pytest.raises(PermissionDenied):
        blueprint_check(definition=warranty(desk), actor=getattr(desk, role))
