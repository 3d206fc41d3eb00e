"""The Console's rule builder offers the satisfaction to time rules: the two stored facts are in
the field picker (the change's `event.rated` is not), and a saved time rule on a rating is drawn
with the ratings' labels."""

from __future__ import annotations

from typing import Any

from sportello.automation.models import RuleKind
from sportello.automation.services import rule_save


def test_a_new_time_rule_offers_the_satisfaction_fields(desk: Any, browser: Any) -> None:
    # When an admin starts a time rule
    html = browser(desk.admin).get("/console/rules/new/?kind=time").content.decode()
    # Then the field picker offers the satisfaction and its score, not the change's rating flag
    assert '<option value="ticket.satisfaction">Satisfaction</option>' in html
    assert '<option value="ticket.satisfaction_score">Satisfaction score</option>' in html
    assert 'value="event.rated"' not in html


def test_a_time_rule_on_a_bad_rating_is_drawn_with_the_ratings_labels(
    desk: Any, browser: Any, now: Any
) -> None:
    # Given a time rule: a day after the solve, a ticket rated bad is tagged
    rule_save(
        kind=RuleKind.TIME,
        definition={
            "key": "unhappy", "name": "Unhappy", "anchor": "status_entered:solved",
            "when": {"field": "ticket.satisfaction", "op": "is", "value": "bad"},
            "steps": [{"after": "24h", "actions": [{"add_tags": ["unhappy"]}]}],
        },
        created_by=desk.admin,
        now=now,
    )  # fmt: skip
    # When an admin opens it
    html = browser(desk.admin).get("/console/rules/unhappy/edit/").content.decode()
    # Then the condition is drawn on the satisfaction, its value picked among the labels
    assert '<option value="ticket.satisfaction" selected>Satisfaction</option>' in html
    assert '<option value="bad" selected>Bad</option>' in html
    assert '<option value="unoffered">Not offered</option>' in html
