"""Which of the desk's languages a customer's message is written in: small, offline, pure.

A new contact gets the language of their first message, so the acknowledgement goes out in it:
the message's `Content-Language` (`content_language`) when it names a language the desk speaks,
else the language its words are written in (`detect_language`), else the desk's default.

How detection works: the customer's own words are kept (`own_words`: quoted replies — lines
starting with ">", an "On … wrote:" attribution and what follows, an Outlook "Original Message"
block — a signature after "-- " or a mail client's "Sent from my phone" line, URLs and e-mail
addresses are left out). Each word is compared, accents folded so that text typed without them
still counts, with the common words of each language (articles, prepositions, pronouns,
auxiliaries, greetings, the words of a customer's request); a word none of them knows votes
through its character trigrams (" th", "ing", "zz", "ll", "ion" …, profiles built from the
same vocabularies) and its ending. Letters only one of the languages uses (Spanish `ñ ¿ ¡` and
acute vowels, Italian grave vowels) add a capped bonus. The language with the clearly highest
score wins; a message too short to tell (`MIN_SCORE`), as much one language as another
(`MARGIN`), or hardly made of any candidate's common words (`MIN_COMMON`: code, part
numbers, random letters) gets `default` — the caller passes the desk's default language, or None.

Only the candidates compete (the desk's `LANGUAGES`); a candidate without a profile here never
wins. Linear in the input, which is read up to `MAX_CHARS`: never slow, never an exception.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .quotes import split_quoted


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common words of each language, accents folded. A word two of the languages share ("la",
# "no", "si", "un", "mi", "del", "con", "una", "in") is left out: it tells nothing apart.
_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """
        the and is are was were be been being have has had do does did i you she we they my your our
        their his her its it this that these those with for not but please thanks thank hello hi hey
        dear would could should can will shall from of to on at by or if so what when where why how
        which who whom any some there just still yet already again also only very about after before
        into over than then them us an all get got need want know think received arrived order
        ordered item items refund account password payment charged twice package parcel broken
        damaged wrong help team regards sincerely best kind cheers sent yesterday today week last
        days since instead back soon possible asap tell let reply attached invoice bought purchase
        delivery shipping tracking number cancel return replace working does doesn't don't can't
        isn't haven't didn't won't i'm i've it's
        """
    ),
    "es": _words(
        """
        el los las que y por para es esta este esto estos estas estoy estamos estan esta su sus pero
        como cuando donde hola gracias muchas buenos buenas dias tardes noches saludos atentamente
        cordialmente pedido pedi quiero quisiera tengo tenemos puedo puede pueden podrian podria
        hace hemos muy mas ya todavia aun tambien nada nos les sin sobre hasta desde porque cual
        favor dinero devolucion devolver reembolso llegado recibido recibi roto rota ayuda usted
        ustedes semana ninguna ninguno hay fue sido numero factura cobrado cobraron envio ahora bien
        en de producto paquete respuesta solicitud espero necesito todo nadie alguien algun compre
        compra tienda cuenta contrasena cambiar cargo tarjeta aqui estimados senores mismo mucho
        poco ayer hoy caja llego nunca entregado direccion pago dos veces cuanto tiempo deberia
        gustaria
        """
    ),
    "it": _words(
        """
        il gli della delle dello dei degli che e di da per non sono ho hai abbiamo ancora grazie
        buongiorno buonasera salve ciao vorrei posso potete potreste mio mia miei mie suo sua questo
        questa questi quando dove perche anche ma piu gia molto tutto tutti cordiali saluti distinti
        ordine rimborso arrivato arrivata ricevuto ricevuta rotto rotta aiuto settimana nessuna
        nessun sto stato stata essere fatto fattura pagamento addebitato spedizione ora adesso bene
        cosa nel nella sul sulla alla allo agli dal dalla qui qualcuno qualche niente nulla soldi
        prodotto pacco gentile gentili attendo riscontro risposta richiesta ordinato ordinata ieri
        oggi scatola mai consegnato consegna indirizzo volte quanto tempo dovrebbe piacerebbe sempre
        invece funziona avete vostro vostra c'e l'ordine un'altra ne mentre dopo prima ogni
        devo deve dobbiamo nostro nostra avuto fatemi ci l' dell' nell' all' sull' dall' un' c'
        quest' po'
        """
    ),
}

# Letters one language uses and the others do not, with their weight per occurrence.
_LETTERS: dict[str, dict[str, float]] = {
    "es": {"ñ": 2.0, "¿": 2.0, "¡": 2.0, "á": 1.0, "í": 1.0, "ó": 1.0, "ú": 1.0},
    "it": {"à": 1.0, "è": 1.0, "ì": 1.0, "ò": 1.0, "ù": 1.0},
    "en": {},
}
# Endings typical of one language, with their weight, for words none of the vocabularies knows.
_ENDINGS: dict[str, tuple[tuple[str, float], ...]] = {
    "es": (("ciones", 1.0), ("cion", 1.0), ("dad", 0.5), ("amos", 0.5), ("ado", 0.25), ("ido", 0.25)),
    "it": (("zioni", 1.0), ("zione", 1.0), ("iamo", 0.5), ("tta", 0.25), ("tto", 0.25), ("ato", 0.25)),
    "en": (("tion", 0.5), ("ing", 0.5), ("ed", 0.25), ("ly", 0.25)),
}

MIN_SCORE = 2.0  # below this the message is too short to tell
MARGIN = 1.5  # the winner scores at least this many times the runner-up
MIN_COMMON = 0.1  # of the words, at least this share are common words of a candidate
MAX_CHARS = 20_000  # of a message read to tell its language
_LETTER_CAP = 6.0  # accents alone never outweigh the words
_TRIGRAM_WEIGHT = 0.15  # per trigram of an unknown word, scaled by how much it is one language's
_TRIGRAM_WORD_CAP = 0.75  # one unknown word never counts for more than most of a known one
_LONGEST_WORD = 30  # longer runs of letters are not words of a message
_APOSTROPHE = "\u2019"  # the typographic apostrophe mail clients type
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]{1,20}://|www\.)\S*", re.IGNORECASE)
_ADDRESS = re.compile(r"[^\s<>()\[\]@]{1,64}@[^\s<>()\[\]@]{1,255}")
_SIGNATURE = re.compile(
    r"^(?:--\s*|__+|sent from my .*|inviato da .*|enviado desde .*|get outlook for .*|"
    r"scarica outlook per .*|descargar outlook para .*)$",
    re.IGNORECASE,
)
_ATTRIBUTION = ("wrote:", "escribió:", "escribio:", "ha scritto:")
_ORIGINAL = re.compile(r"^-{2,}\s*(?:original message|mensaje original|messaggio originale)\s*-{2,}$", re.I)


def _fold(text: str) -> str:
    """Lower case without diacritics ("perché" → "perche"); ñ becomes n like any accent."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(_APOSTROPHE, "'")


def _trigrams(word: str) -> Iterable[str]:
    padded = f" {word} "
    return (padded[i : i + 3] for i in range(len(padded) - 2))


def _profile(words: Iterable[str]) -> dict[str, float]:
    """Relative frequency of each character trigram in a vocabulary."""
    counts = Counter(t for word in words for t in _trigrams(word))
    total = sum(counts.values()) or 1
    return {t: n / total for t, n in counts.items()}


_TRIGRAMS: dict[str, dict[str, float]] = {lang: _profile(words) for lang, words in _WORDS.items()}


def signature_split(text: str) -> str:
    """The text above a signature block (the `-- ` separator or a mail client's "Sent from
    my phone" line); the whole text when there is none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and _SIGNATURE.match(line.strip()):
            return "\n".join(lines[:i])
    return text


def own_words(text: str) -> str:
    """The customer's own words of a message body: without the quoted history (`>` lines, an
    "On … wrote:" attribution or an "Original Message" line and everything under it), the
    signature, URLs and e-mail addresses."""
    own, _quoted = split_quoted(text[:MAX_CHARS])
    kept: list[str] = []
    for line in signature_split(own).splitlines():
        stripped = line.strip()
        low = stripped.lower()
        if low.endswith(_ATTRIBUTION) or _ORIGINAL.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return _ADDRESS.sub(" ", _URL.sub(" ", "\n".join(kept)))


@lru_cache(maxsize=64)
def _trigram_votes(wanted: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """Each trigram's vote for each of `wanted`: its share of their profiles above an even
    share (one table per set of candidates, built once)."""
    even = 1.0 / len(wanted)
    table: dict[str, tuple[float, ...]] = {}
    for trigram in {t for lang in wanted for t in _TRIGRAMS[lang]}:
        weights = [_TRIGRAMS[lang].get(trigram, 0.0) for lang in wanted]
        total = sum(weights)
        table[trigram] = tuple(max(0.0, w / total - even) for w in weights)
    return table


def _unknown_word_votes(word: str, wanted: tuple[str, ...]) -> list[float]:
    """What a word none of the vocabularies knows adds to each language: its trigrams' votes
    (capped) and its ending."""
    table = _trigram_votes(wanted)
    votes = [0.0] * len(wanted)
    for trigram in _trigrams(word):
        found = table.get(trigram)
        if found is not None:
            for i, vote in enumerate(found):
                votes[i] += vote
    out = []
    for lang, vote in zip(wanted, votes, strict=True):
        ending = 0.0
        if len(word) > 4:
            ending = next((w for end, w in _ENDINGS[lang] if word.endswith(end)), 0.0)
        out.append(min(vote * _TRIGRAM_WEIGHT, _TRIGRAM_WORD_CAP) + ending)
    return out


def _evidence(text: str, candidates: Iterable[str]) -> tuple[dict[str, float], float]:
    """Each candidate's score for `text`, and the share of its words that are common words of
    one of the candidates (a message of no language — code, a list of part numbers, random
    letters — has few)."""
    wanted = tuple(lang for lang in dict.fromkeys(candidates) if lang in _WORDS)
    out = dict.fromkeys(wanted, 0.0)
    if not wanted:
        return out, 0.0
    words = common = 0
    for raw in _WORD.findall(text[:MAX_CHARS]):
        words += 1
        word = _fold(raw)
        known = [lang for lang in wanted if word in _WORDS[lang]]
        if not known and "'" in word:  # an elided article, "dell'anno": "dell'" and "anno"
            elided, word = word.split("'", 1)
            for lang in wanted:
                if f"{elided}'" in _WORDS[lang]:
                    out[lang] += 1.0
            known = [lang for lang in wanted if word in _WORDS[lang]]
        for lang in known:
            out[lang] += 1.0
        if known:
            common += 1
        elif 3 <= len(word) <= _LONGEST_WORD:
            for lang, vote in zip(wanted, _unknown_word_votes(word, wanted), strict=True):
                out[lang] += vote
    lowered = text[:MAX_CHARS].lower()
    for lang in wanted:
        letters = sum(lowered.count(ch) * weight for ch, weight in _LETTERS[lang].items())
        out[lang] += min(letters, _LETTER_CAP)
    return out, (common / words if words else 0.0)


def scores(text: str, candidates: Iterable[str]) -> dict[str, float]:
    """Each candidate's score for `text`, as it is (only candidates with a profile)."""
    return _evidence(text, candidates)[0]


def detect_language(text: str, *, candidates: Sequence[str], default: str | None) -> str | None:
    """The language of `text` among `candidates`, or `default` when it is too short to tell,
    as much one language as another, or hardly made of words of any of them. Quoted history,
    signature, URLs and addresses do not count (`own_words`)."""
    found, common = _evidence(own_words(text), candidates)
    ranked = sorted(found.items(), key=lambda item: item[1], reverse=True)
    if not ranked or common < MIN_COMMON:
        return default
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_score < MIN_SCORE or best_score < MARGIN * runner_up:
        return default
    return best


def message_language(
    *, subject: str, body: str, candidates: Sequence[str], default: str | None
) -> str | None:
    """The language of a customer's message: its subject and own words (`own_words`)."""
    return detect_language(f"{subject[:1000]}\n{body[:MAX_CHARS]}", candidates=candidates, default=default)


def content_language(header: str | None, *, candidates: Sequence[str]) -> str | None:
    """The language a `Content-Language` header (RFC 3282) names among `candidates`: its first
    tag whose primary subtag ("it" of "it-IT", case and "_" forgiven) is a candidate, else
    None. "fr, it-IT" → "it"; "de-DE" → None."""
    wanted = {c.lower(): c for c in candidates}
    for tag in (header or "")[:1000].split(","):
        primary = tag.split(";")[0].strip().replace("_", "-").split("-")[0].lower()
        if primary in wanted:
            return wanted[primary]
    return None
