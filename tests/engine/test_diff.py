"""The engine's snapshot diff: pure data, no database."""

from sportello.engine.diff import FieldChange, diff


def test_diff_reports_each_changed_field_once_in_stable_order() -> None:
    before = {"subject": "a", "priority": "low", "tags": ["x"], "team": None}
    after = {"subject": "a", "priority": "high", "tags": ["x", "y"], "team": 3}
    assert diff(before, after) == [
        FieldChange("priority", "low", "high"),
        FieldChange("tags", ["x"], ["x", "y"]),
        FieldChange("team", None, 3),
    ]


def test_diff_reports_custom_fields_one_by_one() -> None:
    before = {"custom_fields": {"order": "A1", "size": "m"}}
    after = {"custom_fields": {"order": "A1", "color": "red"}}
    assert diff(before, after) == [
        FieldChange("custom_fields.color", None, "red"),
        FieldChange("custom_fields.size", "m", None),
    ]


def test_diff_from_nothing_lists_every_set_field() -> None:
    assert diff({}, {"subject": "s", "team": None}) == [FieldChange("subject", None, "s")]
