"""Personal data out of an article written from a ticket (`kb.redact`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.kb.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to alice@acme.test today", "write to [e-mail] today"),
        ("<Alice.O'Neil+shop@mail.example.co.uk>", "<[e-mail]>"),
        ("mailto:bob@example.test", "[e-mail]"),
        ("call +39 333 123 4567.", "call [phone]."),
        ("call +44 (0)20 7946 0958", "call [phone]"),
        ("call 0044 20 7946 0958", "call [phone]"),
        ("call 020 7946 0958", "call [phone]"),
        ("call (020) 7946-0958", "call [phone]"),
        ("call 06 1234 5678", "call [phone]"),
        ("call 0612345678", "call [phone]"),
        ("call 333 1234567", "call [phone]"),
        ("call (555) 123-4567", "call [phone]"),
        ("call 555-123-4567", "call [phone]"),
        ("order B1234567 arrived", "order [order] arrived"),
        ("ticket #12345 and order ORD-2024-991", "ticket [order] and order [order]"),
        ("order number: X9988A1", "order number: [order]"),
        ("il mio ordine n. 77812AB", "il mio ordine n. [order]"),
        ("mi pedido 5512-88 llegó", "mi pedido [order] llegó"),
        ("IBAN IT60 X054 2811 1010 0000 0123 456 please", "IBAN [account] please"),
        ("IBAN DE89370400440532013000", "IBAN [account]"),
        ("card 4111 1111 1111 1111 expired", "card [account] expired"),
        ("card 4111-1111-1111-1111", "card [account]"),
        ("reset: https://shop.example/reset?token=abc123&x=1 now", "reset: [link] now"),
        ("https://shop.example/r/9f8e7d6c5b4a39281706f5e4 link", "[link] link"),
        ("see https://shop.example/help/returns for more", "see https://shop.example/help/returns for more"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "on 2026-12-07 at 14:30",
        "it costs 19.99 EUR, 3 items, 2 boxes",
        "product EL-1234 and BK-5521",
        "version 1.2.3, 100% done, 30 days",
        "room 12, floor 3",
        "a price of 1,299.00",
    ],
)
def test_what_is_not_personal_stays(text: str) -> None:
    assert redact(text) == text


def test_names_whole_and_in_parts_any_case() -> None:
    text = "Hi Alice Acme, thanks Alice. ALICE here. Bruno Books. Alicent stays. Dear bruno"
    assert redact(text, names=["Alice Acme", "Bruno Books"]) == (
        "Hi [name], thanks [name]. [name] here. [name]. Alicent stays. Dear [name]"
    )


def test_short_name_parts_are_not_redacted_alone() -> None:
    assert redact("Jo Li wrote: to be or not", names=["Jo Li"]) == "[name] wrote: to be or not"


def test_names_with_regex_characters() -> None:
    assert redact("Thanks A.J. (Smith)+ ok", names=["A.J. (Smith)+"]) == "Thanks [name] ok"


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)  # type: ignore[arg-type]


@given(before=_TEXT, address=st.emails(), after=_TEXT)
def test_no_email_address_survives(before: str, address: str, after: str) -> None:
    result = redact(f"{before} {address} {after}")
    assert address not in result
    assert "[e-mail]" in result


@given(
    country=st.integers(1, 999),
    groups=st.lists(st.integers(10, 9999), min_size=2, max_size=4),
    sep=st.sampled_from([" ", "-", "."]),
)
def test_no_international_phone_survives(country: int, groups: list[int], sep: str) -> None:
    number = f"+{country} " + sep.join(str(g) for g in groups)
    result = redact(f"call me on {number} please")
    assert result == "call me on [phone] please"


@given(letter=st.sampled_from("ABCD"), digits=st.integers(1_000_000, 9_999_999))
def test_no_demo_order_number_survives(letter: str, digits: int) -> None:
    assert redact(f"my order {letter}{digits} is late") == "my order [order] is late"


@given(st.text(max_size=200))
def test_never_fails_and_is_stable(text: str) -> None:
    once = redact(text, names=["Alice Acme"])
    assert redact(once, names=["Alice Acme"]) == once
