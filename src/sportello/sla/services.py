"""SLA policies: saving (immutable versions), reading the active ones, and the per-process cache
of their parsed form.

A change reads the signature of the active policies (count, sums of ids and versions, the
latest update — every write of a policy moves one of them) in the statement that reads every
configuration's signature (`core.config`); the parsed policies are cached per process under
it, so a change does not parse them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from sportello.accounts.models import User
from sportello.accounts.services import require_admin
from sportello.automation.facts import CUSTOM_PREFIX, field_specs
from sportello.channels.secrets import check_secret_refs
from sportello.core.config import signatures
from sportello.core.errors import Conflict, NotFound, ValidationFailed
from sportello.engine import sla as engine
from sportello.engine.conditions import FIELDS, FieldSpec, fields_of
from sportello.engine.schema import RuleSchemaError

from .models import SlaPolicy, SlaPolicyVersion


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    id: int
    version: int
    name: str
    parsed: engine.SlaPolicy


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
    from .calendars import calendar_exists

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
        _maybe_reflow(reflow, policy=policy.key)
    return policy, True


def _maybe_reflow(requested: bool | None, **target: str) -> None:
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


@dataclass(frozen=True, slots=True)
class PolicyReads:
    """What the active policies' conditions read, so a change builds only those facts: the
    standard fields' specs and those of the custom fields they name, and whether any names an
    `organization.*` fact (else the requester's organization is not read)."""

    specs: Mapping[str, FieldSpec]
    organization: bool


_cache: dict[str, tuple[list[ActivePolicy], PolicyReads]] = {}


def _active(memo: dict[str, Any] | None) -> tuple[list[ActivePolicy], PolicyReads]:
    found = memo.get("sla_policies") if memo is not None else None
    if found is not None:
        return found  # type: ignore[no-any-return]
    signature = signatures(memo)["sla_policies"]
    found = _cache.get(signature)
    if found is None:
        specs = field_specs()
        policies = []
        rows = SlaPolicyVersion.objects.filter(policy__active=True).select_related("policy")
        for pv in rows:
            if pv.version != pv.policy.version:
                continue
            try:
                parsed = engine.parse_policy(pv.definition, specs=specs)
            except RuleSchemaError:
                continue  # valid when saved; a custom field removed since: it does not apply
            policies.append(
                ActivePolicy(id=pv.policy_id, version=pv.version, name=pv.policy.name, parsed=parsed)
            )
        policies.sort(key=lambda p: (p.parsed.position, p.parsed.key))
        reads: set[str] = set()
        for p in policies:
            reads |= fields_of(p.parsed.when)
        needed = dict(FIELDS) | {f: specs[f] for f in reads if f.startswith(CUSTOM_PREFIX) and f in specs}
        found = (policies, PolicyReads(needed, any(f.startswith("organization.") for f in reads)))
        _cache.clear()
        _cache[signature] = found
    if memo is not None:
        memo["sla_policies"] = found
    return found


def active_policies(memo: dict[str, Any] | None = None) -> list[ActivePolicy]:
    """The active policies, parsed, in match order. One signature query per change (kept in
    `memo`); the rows are read and parsed again only when it changed."""
    return _active(memo)[0]


def policy_reads(memo: dict[str, Any] | None = None) -> PolicyReads:
    """What the active policies' conditions read (cached with them)."""
    return _active(memo)[1]


def forget_policies() -> None:
    """Drop the parsed-policy cache (tests roll back and reuse ids)."""
    _cache.clear()
