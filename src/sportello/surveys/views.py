"""The survey's pages for customers (`/portal/survey/`): the signed links of the e-mail, and the
survey of a signed-in customer's ticket.

- `<token>/`: the survey; a POST answers it (rating, comment, and CES and NPS when asked).
- `<token>/rate/<value>/`: one click on a rating in the e-mail records it (clicking again
  records nothing more) and shows the thank-you page, where a comment can be added and the
  rating changed while the survey is open. Requests that are not a person's click record
  nothing: a `HEAD` (link checkers) gets the survey page; a prefetch (`Sec-Purpose: prefetch`,
  the legacy `Purpose: prefetch`, `X-Moz: prefetch`, `X-Purpose: preview`) is refused with 503,
  so a browser discards it and the real click is fetched again. None of these pages is cached
  (`Cache-Control: no-store`).
- `ticket/<number>/`: the survey of the signed-in customer's ticket (`portal_contact_id`).
A tampered or foreign link is a clear "not found" page (404); a survey whose window ended, a
clear "closed" page (410): nothing is recorded then.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from sportello.core import clock
from sportello.core.actors import Via
from sportello.core.errors import Conflict, NotFound, ValidationFailed

from . import links, selectors, services
from .models import Scale, Survey

CES_CHOICES = [(str(n), str(n)) for n in range(1, 8)]
NPS_CHOICES = [(str(n), str(n)) for n in range(0, 11)]


class AnswerForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Your rating"), coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Anything you'd like to add? (optional)"),
        required=False,
        max_length=services.COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    ces = forms.TypedChoiceField(
        label=_("How easy was it to get your issue solved? (1 very hard – 7 very easy)"),  # noqa: RUF001
        coerce=int,
        required=False,
        empty_value=None,
        choices=CES_CHOICES,
        widget=forms.RadioSelect,
    )
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend? (0 not at all – 10 extremely)"),  # noqa: RUF001
        coerce=int,
        required=False,
        empty_value=None,
        choices=NPS_CHOICES,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, survey: Survey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = links.rating_labels(survey.scale)
        rating = self.fields["rating"]
        assert isinstance(rating, forms.TypedChoiceField)
        rating.choices = [(str(v), label) for v, label in labels.items()]
        if not survey.ask_ces:
            del self.fields["ces"]
        if not survey.ask_nps:
            del self.fields["nps"]


def _language(survey: Survey) -> str:
    return survey.ticket.requester.language or "en"


def _page(request: HttpRequest, survey: Survey, *, form: AnswerForm | None = None, thanks: bool = False,
          saved: bool = False, status: int = 200) -> HttpResponse:  # fmt: skip
    if form is None:
        initial = {"rating": survey.rating, "comment": survey.comment, "ces": survey.ces, "nps": survey.nps}
        form = AnswerForm(survey=survey, initial=initial)
    context = {
        "survey": survey,
        "ticket": survey.ticket,
        "form": form,
        "thanks": thanks,
        "saved": saved,
        "five": survey.scale == Scale.FIVE,
        "action": request.path if not thanks else request.path.split("rate/")[0],
    }
    return render(request, "surveys/survey.html", context, status=status)


def _closed(request: HttpRequest, *, status: int, gone: bool) -> HttpResponse:
    return render(request, "surveys/closed.html", {"gone": gone}, status=status)


def _survey(token: str) -> Survey:
    return links.survey_from_token(token)


@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        survey = _survey(token)
    except NotFound:
        return _closed(request, status=404, gone=False)
    now = clock.now()
    with translation.override(_language(survey)):
        if not links.is_open(survey, now):
            return _closed(request, status=410, gone=True)
        if request.method == "GET":
            return _page(request, survey)
        form = AnswerForm(request.POST, survey=survey)
        if not form.is_valid():
            return _page(request, survey, form=form, status=422)
        data = form.cleaned_data
        try:
            survey, _changed = services.survey_answer(
                survey=survey, rating=data["rating"], comment=data.get("comment") or "",
                ces=data.get("ces"), nps=data.get("nps"), via=Via.PORTAL, now=now,
            )  # fmt: skip
        except ValidationFailed as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            return _page(request, survey, form=form, status=422)
        except Conflict:
            return _closed(request, status=410, gone=True)
        return _page(request, survey, saved=True)


# Request headers by which browsers and link previews say a request is not a navigation, and
# the tokens that say so (`Sec-Purpose` is a structured list: `prefetch`, `prefetch;prerender`).
PREFETCH_HEADERS = {
    "Sec-Purpose": ("prefetch",),
    "Purpose": ("prefetch", "preview"),
    "X-Purpose": ("prefetch", "preview"),
    "X-Moz": ("prefetch",),
}
PREFETCH_REFUSED = 503  # a non-2xx answer: the browser drops the prefetch


def is_prefetch(request: HttpRequest) -> bool:
    """Whether the request says it is a prefetch or a preview, not a person's click."""
    for header, tokens in PREFETCH_HEADERS.items():
        value = request.headers.get(header, "")
        items = {part.split(";")[0].strip().lower() for part in value.split(",")}
        if items & set(tokens):
            return True
    return False


@require_http_methods(["GET", "HEAD"])
@never_cache
@vary_on_headers("Sec-Purpose", "Purpose")
def survey_rate(request: HttpRequest, token: str, value: int) -> HttpResponse:
    try:
        survey = _survey(token)
    except NotFound:
        return _closed(request, status=404, gone=False)
    now = clock.now()
    with translation.override(_language(survey)):
        if not links.is_open(survey, now):
            return _closed(request, status=410, gone=True)
        if value not in services.SCALE_VALUES[Scale(survey.scale)]:
            return _page(request, survey, status=400)
        if request.method == "HEAD":  # a link checker: the page, nothing recorded
            return _page(request, survey)
        if is_prefetch(request):
            return _page(request, survey, status=PREFETCH_REFUSED)
        if survey.answered_at is None or survey.rating != value:
            try:
                survey, _changed = services.survey_answer(
                    survey=survey, rating=value, comment=survey.comment, ces=survey.ces, nps=survey.nps,
                    via=Via.EMAIL, now=now,
                )  # fmt: skip
            except Conflict:
                return _closed(request, status=410, gone=True)
        return _page(request, survey, thanks=True)


@require_http_methods(["GET"])
def survey_of_ticket(request: HttpRequest, number: int) -> HttpResponse:
    contact_id = request.session.get("portal_contact_id")
    if not isinstance(contact_id, int):
        return _closed(request, status=404, gone=False)
    try:
        survey = selectors.survey_for_contact(contact_id=contact_id, number=number)
    except NotFound:
        return _closed(request, status=404, gone=False)
    return redirect("surveys:page", token=links.survey_token(survey))
