"""The language a new contact gets, from the first thing they wrote.

One rule for every channel that creates a contact for a new sender (mail intake, the ticket
API's new requester): the language the message declares (`Content-Language`, RFC 3282: its
first tag whose primary subtag the desk speaks), else the language its subject and own words are
written in among the desk's languages (`mail.language`, offline), else the desk's default
(`LANGUAGE_CODE`) when it is too short or ambiguous to tell. The desk's languages are
`settings.LANGUAGES`. An existing contact's language is never changed by a message: callers
pass this to `contact_get_or_create`, which uses it only for a new contact.
"""

from __future__ import annotations

from django.conf import settings

from sportello.mail.language import content_language, message_language

SAMPLE_CHARS = 5_000  # of a first message read to tell its language


def desk_languages() -> tuple[str, ...]:
    """The languages the desk speaks (settings.LANGUAGES), primary subtags, in order."""
    return tuple(dict.fromkeys(str(code).split("-")[0].lower() for code, _ in settings.LANGUAGES))


def desk_default_language() -> str:
    """The desk's default language: LANGUAGE_CODE's primary subtag when the desk speaks it,
    else its first language."""
    languages = desk_languages()
    primary = str(settings.LANGUAGE_CODE).split("-")[0].lower()
    return primary if primary in languages or not languages else languages[0]


def new_contact_language(*, header: str | None = None, subject: str = "", body: str = "") -> str:
    """A new contact's language: the header's, else the one the text is written in, else the
    desk's default."""
    languages = desk_languages()
    declared = content_language(header, candidates=languages)
    if declared is not None:
        return declared
    found = message_language(subject=subject, body=body[:SAMPLE_CHARS], candidates=languages, default=None)
    return found or desk_default_language()
