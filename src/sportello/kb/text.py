"""Words for the full-text index of the knowledge base, per language, in pure Python.

Accents are folded for matching but each language keeps its own stemming: a word is stemmed
with its language's Snowball rules first and folded after ("devolución" and "devolucion" both
give `devolu`, "perché" and "perche" give `perc`, "rimborsi" and "rimborso" give `rimbors`). A
word also yields the stem of its folded spelling when that differs, so text typed without
accents finds the accented words and the other way round. Stop words are left out so a long,
chatty request is matched on the words that carry its meaning.

PostgreSQL does the same in SQL (text search configurations `sportello_<lang>`, see migration
0002); this module serves SQLite's FTS5 table and the queries against it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

import snowballstemmer

STEMMERS = {"en": "english", "es": "spanish", "it": "italian"}
LANGUAGES = tuple(STEMMERS)

_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text: str) -> list[str]:
    return text.split()


STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        _words(
            "a about after again all am an and any are as at be been before being but by can could "
            "did do does doing don down for from get got had has have having he her here hers him his "
            "how i if in into is it its just me more most my no nor not now of off on once only or "
            "other our out over own please same she should so some such than that the their them then "
            "there these they this those through to too under until up very was we were what when "
            "where which while who whom why will with would you your yours hi hello thanks thank"
        )
    ),
    "es": frozenset(
        _words(
            "a al algo algunas algunos ante antes como con contra cual cuando de del desde donde "
            "durante e el ella ellas ellos en entre era es esa ese eso esta estaba estas este esto "
            "estos estoy fue ha hace hay he la las le les lo los me mi mis mucho muy más mí nada ni "
            "no nos o os otra otro para pero poco por porque que qué quien se sea ser si sido sin "
            "sobre son su sus también te tengo ti tu tus tú un una uno unos y ya yo hola gracias "
            "cómo puedo quiero"
        )
    ),
    "it": frozenset(
        _words(
            "a ad al alla alle allo agli ai anche avere c che chi ci come con cosa cui da dal dalla "
            "dei del della delle dello di do dove e è ed gli ha hai hanno ho i il in io la le lei lo "
            "loro lui ma mi mia mie miei mio ne nei nel nella no noi non o per più quale "
            "quando quello questa questo se si sono su sua sue suo sul sulla ti tu tua tuo un una "
            "uno vi voi ciao grazie salve posso vorrei"
        )
    ),
}


def fold(text: str) -> str:
    """Lower case without accents ("Perché" → "perche")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def _stemmer(language: str) -> snowballstemmer.Stemmer | None:
    name = STEMMERS.get(language)
    return snowballstemmer.stemmer(name) if name else None


@cache
def _folded_stops(language: str) -> frozenset[str]:
    return frozenset(fold(w) for w in STOP_WORDS.get(language, ()))


def word_forms(word: str, language: str) -> list[str]:
    """The index terms of one word in `language`: its folded stem, and the stem of its folded
    spelling when different (none for a stop word)."""
    return list(_word_forms(word, language))


@lru_cache(maxsize=65_536)  # a request's words recur; stemming them is most of a query's cost
def _word_forms(word: str, language: str) -> tuple[str, ...]:
    lower = word.casefold()
    folded = fold(lower)
    if folded in _folded_stops(language):
        return ()
    stemmer = _stemmer(language)
    if stemmer is None:
        return (folded,)
    first = fold(stemmer.stemWord(lower))
    other = fold(stemmer.stemWord(folded))
    return (first,) if other == first else (first, other)


def index_terms(text: str, language: str) -> str:
    """`text` as the space-separated terms stored in the index."""
    out: list[str] = []
    for word in _WORD.findall(text):
        out.extend(word_forms(word, language))
    return " ".join(out)


def query_terms(text: str, languages: Iterable[str]) -> list[str]:
    """The distinct terms of a query read in each of `languages` (a word may be a stop word in
    one and a meaningful word in another: it is kept when any language keeps it)."""
    seen: dict[str, None] = {}
    words = _WORD.findall(text)
    for language in languages:
        for word in words:
            for form in word_forms(word, language):
                if form and len(form) < 64:
                    seen.setdefault(form, None)
    return list(seen)
