"""Which of the desk's languages a customer's message is written in: small, offline, pure.

Used for a new contact's language when their first mail carries no `Content-Language` (mail
clients rarely send one), so the acknowledgement goes out in the customer's language.

How: the words of the message are compared with the common words of each language (articles,
prepositions, pronouns, auxiliaries, greetings, the words of a customer's request), accents
folded so that text typed without them still counts; letters only one of the languages uses
(Spanish `ñ ¿ ¡` and acute vowels, Italian grave vowels) and typical endings add to it. The
language with the clearly highest score wins; a message too short to tell, or as much one
language as another, is `None` — the caller falls back to the desk's default.

Only the languages asked for compete (the desk's `LANGUAGES`); a language without a profile
here never wins. The caller passes the customer's own words: quoted history and signatures
split off (`signature_split` drops a signature block), so an English thread quoted under an
Italian reply does not decide.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable

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
        hace hemos muy mas ya todavia aun tambien nada nos les al sin sobre hasta desde porque cual
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
        """
    ),
}

# Letters or endings one language uses and the others do not, with their weight per occurrence.
_LETTERS: dict[str, dict[str, float]] = {
    "es": {"ñ": 2.0, "¿": 2.0, "¡": 2.0, "á": 1.0, "í": 1.0, "ó": 1.0, "ú": 1.0},
    "it": {"à": 1.0, "è": 1.0, "ì": 1.0, "ò": 1.0, "ù": 1.0},
    "en": {},
}
_ENDINGS: dict[str, tuple[tuple[str, float], ...]] = {
    "es": (("cion", 1.0), ("ciones", 1.0), ("dad", 0.5), ("amos", 0.5), ("ado", 0.25)),
    "it": (("zione", 1.0), ("zioni", 1.0), ("tta", 0.25), ("tto", 0.25), ("iamo", 0.5), ("ato", 0.25)),
    "en": (("ing", 0.5), ("ed", 0.25), ("ly", 0.25), ("tion", 0.5)),
}

MIN_SCORE = 2.0  # below this the message is too short to tell
MARGIN = 1.5  # the winner scores at least this many times the runner-up
_LETTER_CAP = 6.0  # accents alone never outweigh the words
_APOSTROPHE = "\u2019"  # the typographic apostrophe mail clients type
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_SIGNATURE = re.compile(
    r"^(?:--\s*|__+|sent from my .*|inviato da .*|enviado desde .*|get outlook for .*|"
    r"scarica outlook per .*|descargar outlook para .*)$",
    re.IGNORECASE,
)


def _fold(text: str) -> str:
    """Lower case without diacritics ("perché" → "perche"); ñ becomes n like any accent."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace(_APOSTROPHE, "'")


def signature_split(text: str) -> str:
    """The text above a signature block (the `-- ` separator or a mail client's "Sent from
    my phone" line); the whole text when there is none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and _SIGNATURE.match(line.strip()):
            return "\n".join(lines[:i])
    return text


def scores(text: str, languages: Iterable[str]) -> dict[str, float]:
    """Each language's score for `text` (only languages with a profile)."""
    wanted = [lang for lang in dict.fromkeys(languages) if lang in _WORDS]
    out = dict.fromkeys(wanted, 0.0)
    if not wanted:
        return out
    for raw in _WORD.findall(text):
        word = _fold(raw)
        for lang in wanted:
            if word in _WORDS[lang]:
                out[lang] += 1.0
            elif len(word) > 4:
                for ending, weight in _ENDINGS[lang]:
                    if word.endswith(ending):
                        out[lang] += weight
                        break
    lowered = text.lower()
    for lang in wanted:
        letters = sum(lowered.count(ch) * weight for ch, weight in _LETTERS[lang].items())
        out[lang] += min(letters, _LETTER_CAP)
    return out


def detect_language(text: str, *, languages: Collection[str]) -> str | None:
    """The language of `text` among `languages`, or None when it is too short or ambiguous."""
    ranked = sorted(scores(text, languages).items(), key=lambda item: item[1], reverse=True)
    if not ranked:
        return None
    best, best_score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_score < MIN_SCORE or best_score < MARGIN * runner_up:
        return None
    return best


def message_language(*, subject: str, body: str, languages: Collection[str]) -> str | None:
    """The language of a customer's message: its subject and own words, without the quoted
    history (`quotes.split_quoted`) and the signature."""
    own, _quoted = split_quoted(body)
    return detect_language(f"{subject}\n{signature_split(own)}", languages=languages)
