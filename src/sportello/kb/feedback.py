"""Readers' feedback on the knowledge base: "Was this helpful?" votes and view counts.

- `article_vote`: one vote per reader (`voter`) per translation, changeable, with an optional
  plain-text comment. The translation's `helpful_count` / `unhelpful_count` are recounted from
  the votes in the same transaction, with the translation's row locked, so however many readers
  vote at once the counters equal the votes stored; the same reader voting twice at once still
  leaves one vote (the unique (translation, voter) constraint, and the lock serialising them).
- `article_viewed`: one more view, as an `F()` increment (no lost update under concurrency).
  The edge decides what counts as a view (once per session per translation).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q

from sportello.contacts.models import Contact
from sportello.core.text import clean_text

from .models import ArticleTranslation, ArticleVote

COMMENT_MAX_CHARS = 2000
VOTER_MAX_CHARS = 64


def contact_voter(contact_id: int) -> str:
    """The voter key of a signed-in contact (anonymous readers have a hash of their session)."""
    return f"contact:{contact_id}"


@transaction.atomic
def article_vote(
    *,
    translation: ArticleTranslation,
    voter: str,
    helpful: bool,
    comment: str = "",
    contact: Contact | None = None,
    now: datetime,
) -> ArticleVote:
    """Record (or change) `voter`'s answer on `translation`; a comment replaces the previous
    one only when given. Raises ValidationFailed for a comment that is too long or holds NUL."""
    voter = clean_text(voter, field="voter", max_length=VOTER_MAX_CHARS, required=True)
    comment = clean_text(comment, field="comment", max_length=COMMENT_MAX_CHARS).strip()
    # The translation's row lock serialises the votes on it (SQLite: one writer at a time).
    ArticleTranslation.objects.select_for_update().filter(pk=translation.pk).values_list("pk").first()
    vote = ArticleVote.objects.filter(translation=translation, voter=voter).first()
    if vote is None:
        try:
            with transaction.atomic():
                vote = ArticleVote.objects.create(
                    translation=translation,
                    voter=voter,
                    contact=contact,
                    helpful=helpful,
                    comment=comment,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            # Another request of the same reader inserted it first: change that one.
            vote = ArticleVote.objects.get(translation=translation, voter=voter)
            vote = _change(vote, helpful=helpful, comment=comment, contact=contact, now=now)
    else:
        vote = _change(vote, helpful=helpful, comment=comment, contact=contact, now=now)
    counts = ArticleVote.objects.filter(translation=translation).aggregate(
        n_helpful=Count("id", filter=Q(helpful=True)), n_unhelpful=Count("id", filter=Q(helpful=False))
    )
    ArticleTranslation.objects.filter(pk=translation.pk).update(
        helpful_count=counts["n_helpful"], unhelpful_count=counts["n_unhelpful"]
    )
    translation.helpful_count = counts["n_helpful"]
    translation.unhelpful_count = counts["n_unhelpful"]
    return vote


def _change(
    vote: ArticleVote, *, helpful: bool, comment: str, contact: Contact | None, now: datetime
) -> ArticleVote:
    vote.helpful = helpful
    if comment:
        vote.comment = comment
    if contact is not None:
        vote.contact = contact
    vote.updated_at = now
    vote.save(update_fields=["helpful", "comment", "contact", "updated_at"])
    return vote


def article_viewed(*, translation: ArticleTranslation, now: datetime) -> None:
    """One more view of `translation`."""
    ArticleTranslation.objects.filter(pk=translation.pk).update(view_count=F("view_count") + 1)
