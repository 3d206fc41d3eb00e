"""SLA policies: saving (immutable versions), reading the active ones, and the per-process cache
of their parsed form.

A change reads the signature of the active policies (count, sums of ids and versions, the
latest update — every write of a policy moves one of them) in the statement that reads every
configuration's signature (`core.config`); the parsed policies are cached per process under
it, so a change does not parse them again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack

from django.db import transaction

from sportello.accounts.models import User
from sportello.accounts.services import require_admin
from sportello.automation.facts import field_specs
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.core.versioning import (
    ConfigKind,
    register_kind,
    version_deactivate,
    version_lock,
    version_save,
)
from sportello.engine import sla as engine
from sportello.engine.schema import RuleSchemaError
from sportello.outbox.secrets import check_secret_refs

from .active_policies import ActivePolicy, PolicyReads, active_policies, policy_reads
from .models import SlaPolicy, SlaPolicyVersion

__all__ = [
    "ActivePolicy",
    "PolicyReads",
    "active_policies",
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
    expected_version: int | None = None,
) -> tuple[SlaPolicy, bool]:
    """Create the policy named by `definition["key"]` or add a version to it. `create`: True
    refuses an existing key (409), False a missing one (404). `expected_version`: the version the
    caller edited; another one current (someone saved meanwhile) is a Conflict `stale_version`,
    nothing written. `reflow`: recompute the due
    instants of the open clocks following it (default: the desk's `SLA_ON_CHANGE`). Returns the
    policy and whether a version was written (an identical definition writes none)."""
    require_admin(actor)
    parsed = policy_validate(definition)
    item = engine.policy_to_data(parsed)
    policy = version_lock(POLICIES, parsed.key)
    if policy is not None and create:
        raise Conflict(f"an SLA policy with the key {parsed.key!r} exists", field="key", code="policy_exists")
    if policy is None and create is False:
        raise NotFound("SLA policy not found")
    if policy is not None and expected_version is not None and policy.version != expected_version:
        raise Conflict(
            "the SLA policy changed since you loaded it "
            f"(your version {expected_version}, now {policy.version})",
            code="stale_version",
        )
    saved = version_save(
        POLICIES,
        key=parsed.key,
        definition=item,
        created_by=actor,
        now=now,
        head=policy,
        fields={"name": parsed.name, "position": parsed.position},
    )
    if saved.written and saved.head.version > 1:
        reflow_enqueue(reflow, policy=saved.head.key)
    return saved.head, saved.written


class ReflowTarget(TypedDict, total=False):
    """What a reflow job reflows: the clocks of a policy or those counting in a calendar."""

    policy: str
    calendar: str


def reflow_enqueue(requested: bool | None, **target: Unpack[ReflowTarget]) -> None:
    """Enqueue the reflow job in this transaction when the change asks for one."""
    from .jobs import reflow_clocks
    from .reflow import reflow_wanted

    if reflow_wanted(requested):
        reflow_clocks.enqueue(**target)


@transaction.atomic
def policy_deactivate(*, key: str, actor: User | None, now: datetime) -> SlaPolicy:
    """Stop a policy from applying (tickets following it move to the next match at their next
    change; their history stays)."""
    require_admin(actor)
    return version_deactivate(POLICIES, key=key, created_by=actor, now=now).head


def _policy_save_again(
    key: str, head: Any, definition: Any, actor: Any, now: datetime
) -> tuple[SlaPolicy, bool]:
    return policy_save(definition=definition, actor=actor, now=now, create=False)


# SLA policies as a versioned configuration kind (`core.versioning`).
POLICIES = register_kind(
    ConfigKind(
        name="sla_policies",
        label="SLA policy",
        head=SlaPolicy,
        version=SlaPolicyVersion,
        parent="policy",
        save=_policy_save_again,
        signature="sla_policies",
    )
)


def policy_definition(policy: SlaPolicy) -> dict[str, Any]:
    return SlaPolicyVersion.objects.get(policy=policy, version=policy.version).definition
