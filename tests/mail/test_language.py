"""`mail.language`: the language of a customer's first message among the desk's languages,
offline, and the language a `Content-Language` header names. A committed labelled set of short,
real-looking support e-mails (tests/mail/data/language_samples.yaml: with and without accents,
English product names, signatures, links, quoted English history) measures the detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.mail.language import (
    content_language,
    detect_language,
    message_language,
    own_words,
    signature_split,
)

DESK = ("en", "es", "it")
SAMPLES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "language_samples.yaml").read_text(encoding="utf-8")
)


def test_the_labelled_set_has_at_least_60_messages_per_language() -> None:
    assert {lang: len(SAMPLES[lang]) >= 60 for lang in DESK} == dict.fromkeys(DESK, True)
    assert all(sample["subject"] and sample["body"] for lang in DESK for sample in SAMPLES[lang])


@pytest.mark.parametrize("language", DESK)
def test_the_language_of_short_support_emails_is_found_at_least_95_percent_of_the_time(
    language: str,
) -> None:
    # given the labelled messages of one language; when each is read with the desk's languages
    found = [
        (message_language(subject=s["subject"], body=s["body"], candidates=DESK, default=None), s["subject"])
        for s in SAMPLES[language]
    ]
    wrong = [(got, subject) for got, subject in found if got != language]
    # then at least 95% are right, and what is not is left to the default rather than misnamed
    assert 1 - len(wrong) / len(found) >= 0.95, wrong
    assert [w for w in wrong if w[0] is not None] == []


@pytest.mark.parametrize("text", SAMPLES["fallback"])
def test_text_too_short_or_ambiguous_gets_the_default(text: str) -> None:
    assert detect_language(text, candidates=DESK, default="en") == "en"
    assert detect_language(text, candidates=DESK, default=None) is None


def test_ok_thanks_is_too_short_to_tell() -> None:
    assert message_language(subject="Re: #4412", body="Ok, thanks!", candidates=DESK, default="it") == "it"


def test_text_of_no_language_gets_the_default() -> None:
    # given random letters, a list of part numbers, a stack trace: few common words of any language
    gibberish = " ".join(["qwzx", "trnbv", "plokij", "mnbvcxz", "asdfgh", "zxcvbnm", "yuiop"] * 40)
    parts = "SKU-4412-A x2\nSKU-9931-B x1\nSKU-1200-C x4\nEAN 8001234567890 DVD-RW 16x"
    trace = "Traceback: File app.py line 12 in main\nKeyError: 'sku'\nTypeError: NoneType object"
    for text in (gibberish, parts, trace, "a" * 100_000, "è" * 50_000):
        assert detect_language(text, candidates=DESK, default="es") == "es"


def test_only_the_candidates_compete() -> None:
    italian = "Buongiorno, il pacco non è ancora arrivato. Grazie"
    assert detect_language(italian, candidates=DESK, default=None) == "it"
    assert detect_language(italian, candidates=("en", "es"), default=None) is None
    assert detect_language(italian, candidates=("fr", "de"), default="fr") == "fr"
    assert detect_language(italian, candidates=(), default=None) is None


def test_telltale_letters_and_words_decide_a_sentence_without_accents() -> None:
    assert (
        detect_language("¿Dónde está mi pedido? Llegó la caja pero sin nada", candidates=DESK, default=None)
        == "es"
    )
    assert (
        detect_language("perche non sono arrivati? che cosa succede", candidates=DESK, default=None) == "it"
    )


def test_quoted_english_history_does_not_decide() -> None:
    # given an Italian reply over a long quoted English message
    body = (
        "Buongiorno, il pacco non è ancora arrivato. Potete controllare?\n\n"
        "On Mon, 3 Nov 2026 at 10:00, Shop <orders@shop.example> wrote:\n"
        + "> Your order has shipped and will arrive within three days. Thank you for shopping with us.\n"
        * 5
    )
    assert detect_language(body, candidates=DESK, default=None) == "it"
    # and the quoted text alone, under two Italian words, is left to the default
    only_quotes = "Ciao\n" + "> Your order has shipped and will arrive within three days.\n" * 5
    assert detect_language(only_quotes, candidates=DESK, default=None) is None


def test_own_words_leave_out_quotes_signature_urls_and_addresses() -> None:
    body = (
        "Il link https://shop.example/the/order?with=the-words non va, scrivete a help@shop.example\n"
        "> the quoted line\n"
        "-- \n"
        "John Smith, the best shop in the world"
    )
    assert own_words(body).split() == ["Il", "link", "non", "va,", "scrivete", "a"]


def test_a_signature_block_is_left_out() -> None:
    body = "Ciao, il pacco non è arrivato.\n-- \nJohn Smith\nThe best shop in the world, with the best prices"
    assert signature_split(body) == "Ciao, il pacco non è arrivato."
    assert signature_split("-- \nonly a signature") == "-- \nonly a signature"
    assert detect_language(body, candidates=DESK, default=None) == "it"  # the English one is left out


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("it", "it"),
        ("es-MX", "es"),
        ("it-IT", "it"),
        ("EN-gb", "en"),
        ("es_ES", "es"),
        ("fr, it-IT", "it"),  # the first tag the desk speaks wins
        ("de-DE, es, it", "es"),
        (" it ; q=1 ", "it"),
        ("fr-CA", None),
        ("", None),
        (None, None),
        ("x-klingon, i-default", None),
    ],
)
def test_content_language_names_the_first_desk_language_among_its_tags(
    header: str | None, language: str | None
) -> None:
    assert content_language(header, candidates=DESK) == language


@settings(max_examples=300)
@given(
    text=st.text(max_size=400) | st.sampled_from([s["body"] for lang in DESK for s in SAMPLES[lang]]),
    candidates=st.lists(st.sampled_from(["en", "es", "it", "fr", "de"]), max_size=4),
    default=st.none() | st.sampled_from(["en", "es", "it", "pt"]),
)
def test_any_text_gives_a_candidate_or_the_default_and_never_raises(
    text: str, candidates: list[str], default: str | None
) -> None:
    found = detect_language(text, candidates=candidates, default=default)
    assert found == default or found in candidates
    assert content_language(text, candidates=candidates) in (None, *candidates)
