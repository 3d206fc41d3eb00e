"""What a contact merge (`contacts.services.contact_merge`) moves of the knowledge base: the
"Was this helpful?" votes the source gave while signed in, and the answer suggestions they were
shown (the deflection figures then count them as the target's: a ticket the target opens within
7 days is not a deflection).

Each vote becomes the target's (its `voter` key too, so the target sees and can change it).
Where both contacts voted on the same translation, the target's vote stands and the source's
is dropped; the counters of those translations are recounted, so they still equal the votes.
Registered from `KbConfig.ready`."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import ngettext

from sportello.contacts import merging

from .feedback import contact_voter
from .models import ArticleTranslation, ArticleVote, SuggestionEvent


def _move_votes(move: merging.Move) -> int:
    votes = list(ArticleVote.objects.select_for_update().filter(contact_id=move.source.pk).order_by("id"))
    if not votes:
        return 0
    translations = sorted({vote.translation_id for vote in votes})
    # The translations' rows first, in id order, as a vote does: the counters stay exact.
    list(
        ArticleTranslation.objects.select_for_update().filter(pk__in=translations).order_by("id").values("pk")
    )
    taken = set(
        ArticleVote.objects.filter(contact_id=move.target.pk, translation_id__in=translations).values_list(
            "translation_id", flat=True
        )
    ) | set(
        ArticleVote.objects.filter(
            voter=contact_voter(move.target.pk), translation_id__in=translations
        ).values_list("translation_id", flat=True)
    )
    dropped = [vote.pk for vote in votes if vote.translation_id in taken]
    ArticleVote.objects.filter(pk__in=dropped).delete()
    moved = [vote.pk for vote in votes if vote.translation_id not in taken]
    ArticleVote.objects.filter(pk__in=moved).update(
        contact_id=move.target.pk, voter=contact_voter(move.target.pk), updated_at=move.now
    )
    for translation_id in sorted({vote.translation_id for vote in votes if vote.pk in set(dropped)}):
        counts = ArticleVote.objects.filter(translation_id=translation_id).aggregate(
            n_helpful=Count("id", filter=Q(helpful=True)), n_unhelpful=Count("id", filter=Q(helpful=False))
        )
        ArticleTranslation.objects.filter(pk=translation_id).update(
            helpful_count=counts["n_helpful"], unhelpful_count=counts["n_unhelpful"]
        )
    return len(votes)


def _move_suggestion_events(move: merging.Move) -> int:
    return SuggestionEvent.objects.filter(contact_id=move.source.pk).update(contact_id=move.target.pk)


def register() -> None:
    merging.register_reference(
        merging.ContactReference(
            model=ArticleVote,
            field="contact",
            count=lambda pk: ArticleVote.objects.filter(contact_id=pk).count(),
            move=_move_votes,
            describe=lambda n: (
                ngettext("%(n)s vote on a help article", "%(n)s votes on help articles", n) % {"n": n}
            ),
            rank=80,
        )
    )
    merging.register_reference(
        merging.ContactReference(
            model=SuggestionEvent,
            field="contact",
            count=lambda pk: SuggestionEvent.objects.filter(contact_id=pk).count(),
            move=_move_suggestion_events,
            describe=lambda n: (
                ngettext("%(n)s answer suggestion event", "%(n)s answer suggestion events", n) % {"n": n}
            ),
            rank=90,
        )
    )
