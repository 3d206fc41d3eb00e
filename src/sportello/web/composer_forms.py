"""Forms of the composer: a reply or note sent with an optional status, and a follow-up of a
closed ticket. They parse and validate only; the views call the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sportello.core.forms import choice_field
from sportello.kb.links import desk_page_article_ids
from sportello.tickets.models import Status, StatusCategory, Ticket

from .composer_markup import markup_to_html
from .labels import status_label

ATTACHMENTS_MAX = 50
# Categories the split button offers: an agent answers and leaves the ticket in one of these.
SEND_AND_SET = (StatusCategory.OPEN, StatusCategory.PENDING, StatusCategory.ON_HOLD, StatusCategory.SOLVED)


class AttachmentIdsField(forms.Field):
    """The ids of files uploaded to the ticket (staged) that go with the message."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        try:
            ids = [int(v) for v in values if str(v).strip()]
        except (TypeError, ValueError):
            raise ValidationError(
                _("An attachment could not be read; remove it and upload it again.")
            ) from None
        if len(ids) > ATTACHMENTS_MAX:
            raise ValidationError(_("A message carries at most %(n)d attachments.") % {"n": ATTACHMENTS_MAX})
        return list(dict.fromkeys(ids))


def send_statuses(
    ticket: Ticket, every: Iterable[Status] | None = None
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The statuses a send may set on `ticket`, as (key, label): those "Send and set …" offers
    (the current one left out) and those it accepts (the current one too: a colleague may have
    set it since the page was shown, and setting it again changes nothing). `every`: all the
    statuses in their order, when the caller read them already."""
    statuses: Iterable[Status]
    if every is not None:
        statuses = [s for s in every if s.is_active and s.category in SEND_AND_SET]
    else:
        statuses = Status.objects.filter(is_active=True, category__in=SEND_AND_SET)
    accepted = [(s.pk, s.key, str(status_label(s.key, s.name))) for s in statuses]
    return [(k, label) for pk, k, label in accepted if pk != ticket.status_id], [
        (k, lb) for _, k, lb in accepted
    ]


class _Composed(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=settings.SPORTELLO["MESSAGE_MAX_CHARS"],
        strip=True,
    )
    attachment_ids = AttachmentIdsField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @property
    def body_html(self) -> str:
        return markup_to_html(self.cleaned_data["body"])


class ReplyForm(_Composed):
    """A public reply or an internal note; the split button's `status` sets the status with it."""

    PUBLIC, INTERNAL = "public", "internal"

    kind = forms.ChoiceField(label=_("Type"), widget=forms.RadioSelect)
    status = forms.ChoiceField(label=_("Then set the status to"), required=False)

    def __init__(
        self,
        *args: Any,
        may_reply_publicly: bool,
        statuses: list[tuple[str, str]] | None = None,
        accepted: list[tuple[str, str]] | None = None,
        kind: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [(self.INTERNAL, _("Internal note"))]
        if may_reply_publicly:
            choices.insert(0, (self.PUBLIC, _("Public reply")))
        choice_field(self, "kind").choices = choices
        self.kinds = [c[0] for c in choices]
        self.fields["kind"].initial = kind if kind in self.kinds else choices[0][0]
        self.statuses = list(statuses or [])  # offered by the split button
        choice_field(self, "status").choices = [("", _("Leave as it is")), *(accepted or self.statuses)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # An article inserted into a note links to the agents' page: not for the customer.
        if data.get("kind") == self.PUBLIC and desk_page_article_ids([data.get("body") or ""]):
            self.add_error(
                "body",
                _(
                    "A public reply cannot link to the agents' knowledge base; insert the article "
                    "from the public reply, or send this as an internal note."
                ),
            )
        return data

    @property
    def public(self) -> bool:
        return self.cleaned_data["kind"] == self.PUBLIC

    @property
    def mode(self) -> str:
        """The mode the composer shows: what was posted (valid or not), else the initial one."""
        value = self["kind"].value()
        return value if value in self.kinds else self.kinds[0]


class FollowUpForm(_Composed):
    """The first message of a follow-up to a closed ticket (a public reply to the requester)."""
