"""A contact merge moves the votes the source gave while signed in, and the counters stay equal to
the votes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from sportello.contacts.services import contact_create, contact_merge
from sportello.kb import feedback
from sportello.kb.models import ArticleTranslation, ArticleVote

pytestmark = pytest.mark.django_db


def test_a_merge_moves_the_sources_votes_and_keeps_the_targets_where_both_voted(
    desk: Any, kb: Any, now: datetime
) -> None:
    # Given the source voted on two articles, the target on one of them (and the other way round)
    source = contact_create(name="Old address", email="old@example.test")
    target = desk.alice
    track, returns = kb.tr(kb.track), kb.tr(kb.returns)
    vote = feedback.article_vote
    vote(translation=track, voter=feedback.contact_voter(source.pk), helpful=True, contact=source, now=now)
    vote(translation=returns, voter=feedback.contact_voter(source.pk), helpful=True, contact=source, now=now)
    vote(translation=track, voter=feedback.contact_voter(target.pk), helpful=False, contact=target, now=now)
    vote(translation=track, voter="anonymous", helpful=True, now=now)

    # When the source is merged into the target
    contact_merge(actor=desk.admin, source_id=source.pk, target_id=target.pk, now=now)

    # Then the target owns one vote per translation: its own on `track`, the source's on `returns`
    mine = {(v.translation_id, v.voter, v.helpful) for v in ArticleVote.objects.filter(contact=target)}
    assert mine == {
        (track.pk, f"contact:{target.pk}", False),
        (returns.pk, f"contact:{target.pk}", True),
    }
    assert not ArticleVote.objects.filter(voter=f"contact:{source.pk}").exists()
    # And the counters equal the votes stored
    for t in (track, returns):
        row = ArticleTranslation.objects.get(pk=t.pk)
        stored = ArticleVote.objects.filter(translation=t)
        assert (row.helpful_count, row.unhelpful_count) == (
            stored.filter(helpful=True).count(),
            stored.filter(helpful=False).count(),
        )
    assert ArticleTranslation.objects.get(pk=track.pk).helpful_count == 1  # the anonymous one
