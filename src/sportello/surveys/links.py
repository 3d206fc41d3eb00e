"""The survey's signed links and what customers read of it: a token carries the survey's id and
the nonce stored on its row, signed with its own salt (`django.core.signing`); a tampered,
foreign or stale token names no survey. The portal's address is PORTAL_URL, else this desk's
own `/portal`."""

from __future__ import annotations

from datetime import datetime

from django.core import signing
from django.utils.translation import gettext as _

from sportello.core.errors import NotFound
from sportello.portal import links as portal_links

from .models import Scale, Survey, SurveyState

SALT = "sportello.surveys.link"


def survey_token(survey: Survey) -> str:
    return signing.Signer(salt=SALT).sign_object([survey.pk, survey.nonce])


def survey_from_token(token: str) -> Survey:
    """The survey a signed token names; NotFound for a tampered, foreign or stale token."""
    try:
        pk, nonce = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound("survey not found") from None
    if not isinstance(pk, int) or not isinstance(nonce, str):
        raise NotFound("survey not found")
    found = Survey.objects.select_related("ticket", "department").filter(pk=pk, nonce=nonce).first()
    if found is None:
        raise NotFound("survey not found")
    return found


def portal_root() -> str:
    """The customer portal's address: PORTAL_URL, else this desk's own `/portal`."""
    return portal_links.portal_root(fallback=True)


def survey_url(survey: Survey) -> str:
    return f"{portal_root()}/survey/{survey_token(survey)}/"


def rate_url(survey: Survey, value: int) -> str:
    return f"{survey_url(survey)}rate/{value}/"


def rating_labels(scale: str) -> dict[int, str]:
    """Each rating of a scale as customers read it (in the active language)."""
    if scale == Scale.GOOD_BAD:
        return {2: _("Good, I'm satisfied"), 1: _("Bad, I'm unsatisfied")}
    return {
        5: _("5 – Excellent"),  # noqa: RUF001
        4: _("4 – Good"),  # noqa: RUF001
        3: _("3 – Okay"),  # noqa: RUF001
        2: _("2 – Poor"),  # noqa: RUF001
        1: _("1 – Very poor"),  # noqa: RUF001
    }


def is_open(survey: Survey, now: datetime) -> bool:
    """Whether the survey may be answered at `now`."""
    return (
        survey.state in (SurveyState.OFFERED, SurveyState.ANSWERED)
        and survey.expires_at is not None
        and now < survey.expires_at
    )
