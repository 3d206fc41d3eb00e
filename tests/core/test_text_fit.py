"""`core.text.fit_line`: text the desk receives or derives (an e-mail's subject) fitted into a
column — one line, cut on a character boundary, ended with "…" — never an error."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.core.text import fit_line


def test_a_line_that_fits_is_kept_with_its_whitespace_collapsed() -> None:
    assert fit_line("  Order\t 42 \n arrived  ", max_length=20) == "Order 42 arrived"


def test_a_long_line_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    assert fit_line("The parcel arrived damaged again", max_length=20) == "The parcel arrived…"


def test_a_long_word_is_cut_inside_it_when_no_space_is_near() -> None:
    assert fit_line("a" + "b" * 40, max_length=10) == "abbbbbbbb…"


def test_an_accent_written_as_a_combining_mark_stays_with_its_letter() -> None:
    # "perché" with the accent as a separate code point: cutting before it would strip it
    decomposed = unicodedata.normalize("NFD", "perché") + "x" * 30
    assert fit_line(decomposed, max_length=7) == "perch…"


def test_an_emoji_sequence_is_never_split() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one visible character, five code points
    assert fit_line("ab" + family + "cdefgh", max_length=6) == "ab…"


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_the_result_always_fits_and_is_one_line_starting_like_the_input(text: str, limit: int) -> None:
    fitted = fit_line(text, max_length=limit)
    line = " ".join(text.split())
    assert len(fitted) <= limit
    assert fitted.split() == fitted.split(" ") or fitted == ""
    if len(line) <= limit:
        assert fitted == line
    else:
        assert fitted.endswith("…")
        assert line.startswith(fitted[:-1].rstrip())


def test_a_limit_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fit_line("x", max_length=0)
