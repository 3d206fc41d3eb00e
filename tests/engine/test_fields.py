"""Custom-field values in the engine: coercion by type and validation against a layout.
Pure Python: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.engine.fields import (
    DECIMAL_DIGITS_MAX,
    LONG_TEXT_MAX,
    MULTI_MAX,
    NUMBER_ABS_MAX,
    TEXT_MAX,
    FieldDef,
    FieldValueError,
    LayoutRule,
    Requirements,
    agent_missing,
    coerce,
    customer_visible,
    missing,
    validate,
)

SUB = FieldDef("subcategory", "Subcategory", "picklist", ("novels", "textbooks", "phones", "laptops"))
TAGS = FieldDef("formats", "Formats", "multi_select", ("paper", "ebook", "audio"))
TEXT = FieldDef("note", "Note", "text")
LONG = FieldDef("story", "Story", "long_text")
NUMBER = FieldDef("qty", "Quantity", "number")
DECIMAL = FieldDef("price", "Price", "decimal")
DATE = FieldDef("due", "Due", "date")
DATETIME = FieldDef("seen", "Seen", "datetime")
BOOLEAN = FieldDef("gift", "Gift", "boolean")
DEFS = {d.key: d for d in (SUB, TAGS, TEXT, NUMBER, DECIMAL)}

BOOKS = {
    "subcategory": LayoutRule(required="always", allowed_values=("novels", "textbooks")),
    "note": LayoutRule(),
}
ELECTRONICS = {"subcategory": LayoutRule(allowed_values=("phones", "laptops")), "qty": LayoutRule()}


def error_of(defn: FieldDef, raw: object) -> tuple[str, str]:
    with pytest.raises(FieldValueError) as info:
        coerce(defn, raw)
    return info.value.field, info.value.message


# --------------------------------------------------------------------------------------------
# coerce: examples


@pytest.mark.parametrize(
    ("defn", "raw", "stored"),
    [
        (TEXT, "Gift wrap", "Gift wrap"),
        (LONG, "line one\nline two", "line one\nline two"),
        (NUMBER, 7, 7),
        (NUMBER, "-12", -12),
        (NUMBER, " +3 ", 3),
        (NUMBER, 4.0, 4),
        (DECIMAL, "19.90", "19.9"),
        (DECIMAL, "1E+3", "1000"),
        (DECIMAL, 0.1, "0.1"),
        (DECIMAL, "-0.00", "0"),
        (DECIMAL, 3, "3"),
        (DATE, "2026-11-02", "2026-11-02"),
        (DATE, " 2026-11-02 ", "2026-11-02"),
        (DATETIME, "2026-11-02T10:30:00+01:00", "2026-11-02T09:30:00Z"),
        (DATETIME, "2026-11-02T09:30:00Z", "2026-11-02T09:30:00Z"),
        (BOOLEAN, False, False),
        (SUB, "novels", "novels"),
        (TAGS, ["ebook", "paper", "ebook"], ["ebook", "paper"]),
        (TAGS, [], []),
        (TEXT, None, None),
        (TAGS, None, None),
    ],
)
def test_coerce_stores_the_canonical_form(defn: FieldDef, raw: object, stored: object) -> None:
    assert coerce(defn, raw) == stored


@pytest.mark.parametrize(
    ("defn", "raw", "message"),
    [
        (TEXT, "two\nlines", "must be a single line"),
        (TEXT, "nul\x00", "must not contain NUL characters"),
        (TEXT, "x" * (TEXT_MAX + 1), f"must be at most {TEXT_MAX} characters"),
        (TEXT, 5, "must be a string"),
        (LONG, "x" * (LONG_TEXT_MAX + 1), f"must be at most {LONG_TEXT_MAX} characters"),
        (NUMBER, True, "must be a whole number"),
        (NUMBER, 1.5, "must be a whole number"),
        (NUMBER, float("inf"), "must be a whole number"),
        (NUMBER, "12abc", "must be a whole number"),
        (NUMBER, [1], "must be a whole number"),
        (NUMBER, 2**53 + 1, f"must be between -{NUMBER_ABS_MAX} and {NUMBER_ABS_MAX}"),
        (DECIMAL, "abc", "must be a decimal number"),
        (DECIMAL, "NaN", "must be a finite decimal number"),
        (DECIMAL, "Infinity", "must be a finite decimal number"),
        (DECIMAL, True, "must be a decimal number"),
        (DECIMAL, "1" * 65, "must be a decimal number of at most 64 characters"),
        (DECIMAL, "1" * 31, f"must have at most {DECIMAL_DIGITS_MAX} digits"),
        (DATE, "02/11/2026", "must be a date (YYYY-MM-DD)"),
        (DATE, "2026-02-30", "must be a date (YYYY-MM-DD)"),
        (DATE, 20261102, "must be a date (YYYY-MM-DD)"),
        (DATETIME, "2026-11-02T09:30:00", "must carry a UTC offset, e.g. 2026-01-31T09:30:00+01:00"),
        (DATETIME, "yesterday", "must be a date and time (ISO 8601 with a UTC offset)"),
        (BOOLEAN, "true", "must be true or false"),
        (BOOLEAN, 1, "must be true or false"),
        (SUB, "tablets", "'tablets' is not one of the field's values"),
        (SUB, ["novels"], "must be one of the field's values"),
        (TAGS, "paper", "must be a list of the field's values"),
        (TAGS, ["paper", "vinyl"], "'vinyl' is not one of the field's values"),
        (TAGS, ["paper", 1], "1 is not one of the field's values"),
        (TAGS, ["paper"] * (MULTI_MAX + 1), f"must have at most {MULTI_MAX} values"),
    ],
)
def test_coerce_refuses_values_the_field_cannot_take(defn: FieldDef, raw: object, message: str) -> None:
    assert error_of(defn, raw) == (f"custom_fields.{defn.key}", message)


def test_an_unknown_type_is_refused_by_name() -> None:
    assert error_of(FieldDef("x", "X", "colour"), "red") == (
        "custom_fields.x",
        "has an unknown type 'colour'",
    )


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    field, message = error_of(SUB, "z" * 500)
    assert field == "custom_fields.subcategory"
    assert message == "'" + "z" * 56 + "... is not one of the field's values"


# --------------------------------------------------------------------------------------------
# coerce: properties

SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # (the Unicode category: no valid text holds one)
SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\x00\n\r"), max_size=200
)
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=6)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
DATETIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=OFFSETS)


def valid_values() -> st.SearchStrategy[tuple[FieldDef, Any]]:
    return st.one_of(
        st.tuples(st.just(TEXT), SAFE_TEXT),
        st.tuples(
            st.just(LONG),
            st.text(
                alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\x00"),
                max_size=500,
            ),
        ),
        st.tuples(st.just(NUMBER), st.integers(-NUMBER_ABS_MAX, NUMBER_ABS_MAX)),
        st.tuples(st.just(NUMBER), st.integers(-(10**15), 10**15).map(str)),
        st.tuples(st.just(DECIMAL), DECIMALS.map(str)),
        st.tuples(st.just(DATE), st.dates().map(date.isoformat)),
        st.tuples(st.just(DATETIME), DATETIMES.map(datetime.isoformat)),
        st.tuples(st.just(BOOLEAN), st.booleans()),
        st.tuples(st.just(SUB), st.sampled_from(SUB.options)),
        st.tuples(st.just(TAGS), st.lists(st.sampled_from(TAGS.options), max_size=10)),
    )


@given(valid_values())
def test_coerce_is_idempotent_on_valid_values(case: tuple[FieldDef, Any]) -> None:
    defn, raw = case
    once = coerce(defn, raw)
    assert coerce(defn, once) == once


@given(DECIMALS)
def test_a_decimal_keeps_its_exact_value(value: Decimal) -> None:
    assert Decimal(str(coerce(DECIMAL, str(value)))) == value


@given(st.integers(-NUMBER_ABS_MAX, NUMBER_ABS_MAX))
def test_a_whole_number_is_stored_as_itself_from_an_int_or_its_text(value: int) -> None:
    assert coerce(NUMBER, value) == value
    assert coerce(NUMBER, str(value)) == value


@given(DATETIMES)
def test_a_datetime_is_stored_in_utc_and_denotes_the_same_instant(value: datetime) -> None:
    stored = coerce(DATETIME, value.isoformat())
    assert isinstance(stored, str)
    assert stored.endswith("Z")
    assert datetime.fromisoformat(stored) == value
    assert datetime.fromisoformat(stored).utcoffset() == timedelta(0)


@given(st.lists(st.sampled_from(TAGS.options), max_size=MULTI_MAX))
def test_a_multi_select_is_stored_sorted_without_repeats(values: list[str]) -> None:
    assert coerce(TAGS, values) == sorted(set(values))


@given(
    st.one_of(
        st.integers(), st.floats(), st.text(max_size=80), st.booleans(), st.none(), st.lists(st.integers())
    )
)
def test_coerce_either_stores_or_raises_a_field_error_for_any_json_scalar(raw: object) -> None:
    # Types never produce anything but a stored value or a FieldValueError naming the field,
    # for the types whose parsing is robust today (see the known bugs below).
    for defn in (TEXT, LONG, DATE, BOOLEAN, SUB, TAGS):
        try:
            coerce(defn, raw)
            refused_as = None
        except FieldValueError as exc:
            refused_as = exc.field
        assert refused_as in (None, f"custom_fields.{defn.key}")


# --------------------------------------------------------------------------------------------
# coerce: edge cases. Each input reaches the API as ordinary JSON; each must be refused with a
# FieldValueError (a 422) or stored exactly, never escape as another exception (a 500).


@pytest.mark.parametrize("raw", ["+-5", "--5", "²"])
def test_a_malformed_number_text_is_a_field_error(raw: str) -> None:
    assert error_of(NUMBER, raw)[0] == "custom_fields.qty"


@pytest.mark.parametrize("raw", ["1E+999999999", "1E+99999"])
def test_a_decimal_with_a_huge_exponent_is_a_field_error(raw: str) -> None:
    assert error_of(DECIMAL, raw)[0] == "custom_fields.price"


def test_a_thirty_digit_decimal_keeps_its_exact_value() -> None:
    value = "123456789012345678901234567891"
    assert coerce(DECIMAL, value) == value


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00"])
def test_a_datetime_at_the_edge_of_the_calendar_is_a_field_error(raw: str) -> None:
    assert error_of(DATETIME, raw)[0] == "custom_fields.seen"


def test_text_with_a_lone_surrogate_is_a_field_error() -> None:
    assert error_of(TEXT, "bad \ud800 text")[0] == "custom_fields.note"


# --------------------------------------------------------------------------------------------
# validate: the department layout


def test_a_value_the_department_allows_is_kept() -> None:
    assert validate(defs=DEFS, layout=BOOKS, current={}, changes={"subcategory": "novels"}) == {
        "subcategory": "novels"
    }


def test_a_value_of_the_field_the_department_does_not_allow_is_refused() -> None:
    with pytest.raises(FieldValueError) as info:
        validate(defs=DEFS, layout=BOOKS, current={}, changes={"subcategory": "phones"})
    assert (info.value.field, info.value.message) == (
        "custom_fields.subcategory",
        "'phones' is not allowed in this department",
    )


def test_a_required_field_left_empty_is_refused() -> None:
    for changes in ({}, {"subcategory": None}, {"note": "hi"}):
        with pytest.raises(FieldValueError) as info:
            validate(defs=DEFS, layout=BOOKS, current={}, changes=changes)
        assert (info.value.field, info.value.message) == (
            "custom_fields.subcategory",
            "is required in this department",
        )


def test_a_change_that_meets_no_requirement_keeps_a_required_field_empty() -> None:
    # mail and automation: nobody there can fill an agent's field
    assert validate(
        defs=DEFS, layout=BOOKS, current={}, changes={"note": "hi"}, requirements=Requirements()
    ) == {"note": "hi"}


REQUIRING = {
    "a_none": LayoutRule(),
    "b_solve": LayoutRule(required="to_solve"),
    "c_always": LayoutRule(required="always"),
    "d_customer": LayoutRule(from_customer=True),
    "e_both": LayoutRule(required="to_solve", from_customer=True),
}


@pytest.mark.parametrize(
    ("requirements", "keys"),
    [
        (Requirements(), []),
        (Requirements(agent_saving=True), ["c_always"]),
        (Requirements(solving=True), ["b_solve", "c_always", "e_both"]),
        (Requirements(customer_form=True), ["d_customer", "e_both"]),
        (Requirements(agent_saving=True, solving=True), ["b_solve", "c_always", "e_both"]),
    ],
)
def test_which_empty_fields_a_change_must_fill_depends_on_who_makes_it(
    requirements: Requirements, keys: list[str]
) -> None:
    assert [
        k for k, _ in missing(layout=REQUIRING, values={"a_none": None}, requirements=requirements)
    ] == keys


def test_a_solving_agent_is_told_the_field_is_required_to_solve() -> None:
    assert missing(
        layout=REQUIRING, values={"c_always": "x", "e_both": "y"}, requirements=Requirements(solving=True)
    ) == [("b_solve", "is required to solve a ticket in this department")]
    assert agent_missing(layout=REQUIRING, values={"b_solve": "", "c_always": []}) == [
        "b_solve",
        "c_always",
        "e_both",
    ]


def test_a_field_outside_the_layout_or_unknown_is_refused() -> None:
    with pytest.raises(FieldValueError) as info:
        validate(defs=DEFS, layout=BOOKS, current={}, changes={"subcategory": "novels", "qty": 1})
    assert (info.value.field, info.value.message) == (
        "custom_fields.qty",
        "does not apply in this department",
    )
    with pytest.raises(FieldValueError) as info:
        validate(defs=DEFS, layout=BOOKS, current={}, changes={"colour": "red"})
    assert (info.value.field, info.value.message) == ("custom_fields.colour", "is not a custom field")


def test_moving_to_a_department_rechecks_carried_over_values() -> None:
    # given a Books ticket about a novel; when checked against Electronics' layout
    with pytest.raises(FieldValueError) as info:
        validate(defs=DEFS, layout=ELECTRONICS, current={"subcategory": "novels", "note": "x"}, changes={})
    # then the Books-only value is refused
    assert (info.value.field, info.value.message) == (
        "custom_fields.subcategory",
        "'novels' is not allowed in this department",
    )


def test_moving_with_a_new_value_keeps_what_applies_and_drops_what_does_not() -> None:
    result = validate(
        defs=DEFS,
        layout=ELECTRONICS,
        current={"subcategory": "novels", "note": "fragile"},
        changes={"subcategory": "laptops", "qty": "2"},
    )
    assert result == {"subcategory": "laptops", "qty": 2}


def test_a_multi_select_is_checked_value_by_value_against_the_layout() -> None:
    defs = {"formats": TAGS}
    layout = {"formats": LayoutRule(allowed_values=("paper", "ebook"))}
    assert validate(defs=defs, layout=layout, current={}, changes={"formats": ["ebook", "paper"]}) == {
        "formats": ["ebook", "paper"]
    }
    with pytest.raises(FieldValueError) as info:
        validate(defs=defs, layout=layout, current={}, changes={"formats": ["paper", "audio"]})
    assert info.value.message == "'audio' is not allowed in this department"


def test_cleared_values_are_not_stored() -> None:
    layout = {"note": LayoutRule(), "qty": LayoutRule()}
    result = validate(
        defs=DEFS, layout=layout, current={"note": "x", "qty": 3}, changes={"note": None, "qty": None}
    )
    assert result == {}


@given(
    st.sampled_from(("novels", "textbooks")),
    st.sampled_from(("phones", "laptops")),
)
def test_each_department_accepts_exactly_its_own_subcategories(
    books_value: str, electronics_value: str
) -> None:
    assert validate(defs=DEFS, layout=BOOKS, current={}, changes={"subcategory": books_value}) == {
        "subcategory": books_value
    }
    assert validate(
        defs=DEFS, layout=ELECTRONICS, current={}, changes={"subcategory": electronics_value}
    ) == {"subcategory": electronics_value}
    with pytest.raises(FieldValueError):
        validate(defs=DEFS, layout=BOOKS, current={}, changes={"subcategory": electronics_value})
    with pytest.raises(FieldValueError):
        validate(defs=DEFS, layout=ELECTRONICS, current={}, changes={"subcategory": books_value})


@given(st.dictionaries(st.sampled_from(("note", "qty")), st.one_of(SAFE_TEXT, st.integers(0, 100))))
def test_validate_is_idempotent_on_what_it_returns(changes: dict[str, Any]) -> None:
    # Whatever a valid change produced, validating it again as the current state changes nothing.
    layout = {"note": LayoutRule(), "qty": LayoutRule()}
    typed = {
        k: (str(v) if k == "note" else v)
        for k, v in changes.items()
        if not (k == "qty" and isinstance(v, str))
    }
    first = validate(defs=DEFS, layout=layout, current={}, changes=typed)
    assert validate(defs=DEFS, layout=layout, current=first, changes={}) == first
    assert validate(defs=DEFS, layout=layout, current={}, changes=first) == first


def test_datetime_stored_form_uses_z_for_utc() -> None:
    stored = coerce(DATETIME, datetime(2026, 1, 31, 8, 30, tzinfo=UTC).isoformat())
    assert stored == "2026-01-31T08:30:00Z"


# What customers may do with a layout's field: nothing (hidden), see it (read), fill it (edit).
ACCESS = {
    "note": LayoutRule(customer_access="edit"),
    "qty": LayoutRule(customer_access="read"),
    "subcategory": LayoutRule(customer_access="hidden"),
}


@pytest.mark.parametrize(("key", "value"), [("qty", 3), ("subcategory", "novels")])
def test_a_customer_cannot_set_a_field_they_cannot_fill(key: str, value: object) -> None:
    # given a layout with a read-only and a hidden field, when a customer sets one of them
    with pytest.raises(FieldValueError) as refused:
        validate(
            defs=DEFS,
            layout=ACCESS,
            current={},
            changes={"note": "mine", key: value},
            requirements=Requirements(customer_form=True, by_customer=True),
        )
    # then the change is refused naming the field
    assert (refused.value.field, refused.value.message) == (
        f"custom_fields.{key}",
        "cannot be set by customers in this department",
    )


def test_a_customer_fills_the_fields_they_can_and_agents_fill_every_field() -> None:
    customer = validate(
        defs=DEFS,
        layout=ACCESS,
        current={"qty": 2, "subcategory": "phones"},
        changes={"note": "mine"},
        requirements=Requirements(by_customer=True),
    )
    # what agents set before is carried over, untouched
    assert customer == {"note": "mine", "qty": 2, "subcategory": "phones"}
    agent = validate(defs=DEFS, layout=ACCESS, current={}, changes={"qty": 4, "subcategory": "novels"})
    assert agent == {"qty": 4, "subcategory": "novels"}


def test_a_customer_sees_every_value_but_those_of_hidden_fields_and_fields_off_the_layout() -> None:
    values = {"note": "mine", "qty": 2, "subcategory": "phones", "gone": "old"}
    assert customer_visible(layout=ACCESS, values=values) == {"note": "mine", "qty": 2}
    assert customer_visible(layout={}, values=values) == {}
    # a layout written before customer access existed lets customers see and fill everything
    assert LayoutRule().customer_access == "edit"
