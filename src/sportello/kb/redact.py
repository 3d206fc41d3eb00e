"""Personal data out of text that becomes a knowledge-base article ("Save as article").

Pure Python: `redact(text, names=...)` replaces, in this order,
- URLs that carry a secret (a token, key, signature or code in the query, or a long random path
  segment) with "[link]";
- e-mail addresses with "[e-mail]";
- IBANs with "[account]";
- international phone numbers (`+39 333 123 4567`, `0044 20 7946 0958`) with "[phone]";
- card-like digit runs (13 to 19 digits, spaces or dashes between) with "[account]";
- local phone numbers (`020 7946 0958`, `(020) 7946-0958`, `333 1234567`, `555-123-4567`)
  with "[phone]";
- order numbers: the demo shop's (`B1234567`: one capital letter and seven digits), `#12345`,
  `ORD-…`, and whatever follows "order number"/"pedido"/"ordine" with "[order]";
- the given people's names (whole, then each part of three letters or more), whole words, in
  any case, with "[name]".
Dates, prices, quantities and product codes (`EL-1234`) stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NAME = "[name]"
EMAIL = "[e-mail]"
PHONE = "[phone]"
ORDER = "[order]"
ACCOUNT = "[account]"
LINK = "[link]"

_URL = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"']+""")
_SECRET_QUERY = re.compile(
    r"(?i)[?&#;](?:[\w.-]*token|key|api_?key|access_?key|sig|signature|code|auth|session|sid|"
    r"secret|password|pwd|otp|hash|t|k|s)=[^&\s]+"
)
_LONG_SEGMENT = re.compile(r"(?=[A-Za-z0-9_-]{20,})(?=[^/?#]*\d)(?=[^/?#]*[A-Za-z])[A-Za-z0-9_-]{20,}")
_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*\.?"
    r"@"
    r"(?:[\w-]+\.)+[\w-]+"
    r"|\[?mailto:[^\s<>\"']+",
)
# Anything with an "@" between two words that looks like an address the stricter pattern missed.
_EMAIL_LOOSE = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+\.[^\s<>()\[\]\"',;:@]+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?![\w])")
_PHONE_INTERNATIONAL = re.compile(
    r"(?<![\w+])(?:\+|00)\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){2,5}(?!\w)"
)
_PHONE_LOCAL = re.compile(
    r"(?<![\w+/.-])(?:"
    r"\(0\d{1,4}\)[ .-]?\d{3,4}(?:[ .-]?\d{2,4}){0,2}"  # (020) 7946 0958
    r"|0\d{1,4}(?:[ .-]\d{2,5}){1,3}"  # 020 7946 0958, 06 1234 5678
    r"|0\d{8,11}"  # 0612345678
    r"|3\d{2}[ .-]?\d{3}[ .-]?\d{3,4}"  # 333 123 4567, 3331234567 (Italian mobile)
    r"|\(\d{3}\)[ ]?\d{3}[ .-]\d{4}"  # (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 555-123-4567
    r")(?![\w/])"
)
_ORDER_SHOP = re.compile(r"\b[A-D]\d{7}\b")
_ORDER_HASH = re.compile(r"(?<![\w&])#\d{3,}\b")
_ORDER_PREFIX = re.compile(r"(?i)\b(?:ORD|ORDER|PO|INV)[-_ ]?\d[\w-]*")
_ORDER_AFTER_WORD = re.compile(
    r"(?i)\b(order|pedido|ordine|bestellung|commande)"
    r"(\s+(?:no\.?|nr\.?|n\.|n°|number|número|numero|nummer)?\s*[:#]?\s*)"
    r"(?=[A-Z0-9-]*\d)([A-Z0-9][A-Z0-9-]{3,})\b"
)


def _redact_url(match: re.Match[str]) -> str:
    url = match.group(0)
    if _SECRET_QUERY.search(url) or _LONG_SEGMENT.search(url):
        return LINK
    return url


def _name_patterns(names: Iterable[str]) -> re.Pattern[str] | None:
    words: set[str] = set()
    for name in names:
        name = " ".join(name.split())
        if not name:
            continue
        words.add(name)
        words.update(part for part in re.split(r"[\s,]+", name) if len(part) >= 3 and not part.isdigit())
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?i)(?<!\w)(?:{alternatives})(?!\w)")


def redact(text: str, *, names: Iterable[str] = ()) -> str:
    """`text` with the personal data described in the module's docstring replaced."""
    text = _URL.sub(_redact_url, text)
    text = _EMAIL.sub(EMAIL, text)
    text = _EMAIL_LOOSE.sub(EMAIL, text)
    text = _IBAN.sub(ACCOUNT, text)
    text = _PHONE_INTERNATIONAL.sub(PHONE, text)
    text = _CARD.sub(ACCOUNT, text)
    text = _PHONE_LOCAL.sub(PHONE, text)
    text = _ORDER_AFTER_WORD.sub(lambda m: m.group(1) + m.group(2) + ORDER, text)
    text = _ORDER_SHOP.sub(ORDER, text)
    text = _ORDER_HASH.sub(ORDER, text)
    text = _ORDER_PREFIX.sub(ORDER, text)
    pattern = _name_patterns(names)
    if pattern is not None:
        text = pattern.sub(NAME, text)
    return text
