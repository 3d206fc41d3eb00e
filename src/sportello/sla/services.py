"""SLA policies: saving (immutable versions). The active ones, parsed and cached per process,
are read from `sla.active_policies` (re-exported here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import User
from sportello.accounts.services import require_admin
from sportello.automation.facts import field_specs
from sportello.channels.secrets import check_secret_refs
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.engine import sla as engine
from sportello.engine.schema import RuleSchemaError

from .active_policies import ActivePolicy, PolicyReads, active_policies, forget_policies, policy_reads
from .models import SlaPolicy, SlaPolicyVersion

__all__ = [
    "ActivePolicy",
    "PolicyReads",
    "active_policies",
    "forget_policies",
    "policy_deactivate",
    "policy_definition",
    "policy_reads",
    "policy_save",
    "policy_validate",
    "reflow_enqueue",
]


def policy_validate(definition: Any) -> engine.SlaPolicy:
    try:
        parsed = engine.parse_policy(definition, specs=field_specs())
    except RuleSchemaError as exc:
        raise ValidationFailed(exc.message, field=exc.path or None) from None
    if any(t.business for t in parsed.targets) or parsed.calendar is not None:
        _check_calendar(parsed.calendar)
    check_secret_refs(definition)
    return parsed


def _check_calendar(key: str | None) -> None:
    from .active_calendars import calendar_exists

    if key is not None and not calendar_exists(key):
        raise ValidationFailed(f"no business calendar with the key {key!r}", field="calendar")


@transaction.atomic
def policy_save(
    *,
    definition: Any,
    actor: User | None,
    now: datetime,
    create: bool | None = None,
    reflow: bool | None = None,
) -> tuple[SlaPolicy, bool]:
    """Create the policy named by `definition["key"]` or add a version to it. `create`: True
    refuses an existing key (409), False a missing one (404). `reflow`: recompute the due
    instants of the open clocks following it (default: the desk's `SLA_ON_CHANGE`). Returns the
    policy and whether a version was written (an identical definition writes none)."""
    require_admin(actor)
    parsed = policy_validate(definition)
    item = engine.policy_to_data(parsed)
    policy = SlaPolicy.objects.select_for_update().filter(key=parsed.key).first()
    if policy is not None and create:
        raise Conflict(f"an SLA policy with the key {parsed.key!r} exists", field="key", code="policy_exists")
    if policy is None and create is False:
        raise NotFound("SLA policy not found")
    if policy is None:
        policy = SlaPolicy(key=parsed.key, version=0, created_at=now)
    else:
        current = SlaPolicyVersion.objects.filter(policy=policy, version=policy.version).first()
        if current is not None and current.definition == item and policy.active:
            return policy, False
    policy.name = parsed.name
    policy.position = parsed.position
    policy.active = True
    policy.version += 1
    policy.updated_at = now
    policy.save()
    SlaPolicyVersion.objects.create(policy=policy, version=policy.version, definition=item, created_by=actor,
                                    created_at=now)  # fmt: skip
    if policy.version > 1:
        reflow_enqueue(reflow, policy=policy.key)
    return policy, True


def reflow_enqueue(requested: bool | None, **target: str) -> None:
    """Enqueue the reflow job in this transaction when the change asks for one."""
    from .reflow import reflow_wanted
    from .tasks import reflow_clocks

    if reflow_wanted(requested):
        reflow_clocks.enqueue(**target)


@transaction.atomic
def policy_deactivate(*, key: str, actor: User | None, now: datetime) -> SlaPolicy:
    """Stop a policy from applying (tickets following it move to the next match at their next
    change; their history stays)."""
    require_admin(actor)
    policy = SlaPolicy.objects.select_for_update().filter(key=key).first()
    if policy is None:
        raise NotFound("SLA policy not found")
    if policy.active:
        policy.active = False
        policy.updated_at = now
        policy.save(update_fields=["active", "updated_at"])
    return policy


def policy_definition(policy: SlaPolicy) -> dict[str, Any]:
    return SlaPolicyVersion.objects.get(policy=policy, version=policy.version).definition  # type: ignore[no-any-return]
