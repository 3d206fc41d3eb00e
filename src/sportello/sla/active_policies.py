"""The active SLA policies, parsed, in match order, and the per-process cache of their parsed
form: what a change, the reflow and the timers read (saving is `sla.services`).

A change reads the signature of the active policies (count, sums of ids and versions, the
latest update — every write of a policy moves one of them) in the statement that reads every
configuration's signature (`core.config`); the parsed policies are cached per process under
it, so a change does not parse them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sportello.automation.facts import CUSTOM_PREFIX, field_specs, reads_satisfaction
from sportello.core.config import config_cached
from sportello.engine import sla as engine
from sportello.engine.conditions import FIELDS, FieldSpec, fields_of
from sportello.engine.schema import RuleSchemaError

from .models import SlaPolicyVersion


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    id: int
    version: int
    name: str
    parsed: engine.SlaPolicy


@dataclass(frozen=True, slots=True)
class PolicyReads:
    """What the active policies' conditions read, so a change builds only those facts: the
    standard fields' specs and those of the custom fields they name, and whether any names an
    `organization.*` fact (else the requester's organization is not read) or a satisfaction
    fact (else the ticket's survey is not read)."""

    specs: Mapping[str, FieldSpec]
    organization: bool
    satisfaction: bool = False


def _read_active() -> tuple[list[ActivePolicy], PolicyReads]:
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
        policies.append(ActivePolicy(id=pv.policy_id, version=pv.version, name=pv.policy.name, parsed=parsed))
    policies.sort(key=lambda p: (p.parsed.position, p.parsed.key))
    reads: set[str] = set()
    for p in policies:
        reads |= fields_of(p.parsed.when)
    needed = dict(FIELDS) | {f: specs[f] for f in reads if f.startswith(CUSTOM_PREFIX) and f in specs}
    return policies, PolicyReads(
        needed, any(f.startswith("organization.") for f in reads), reads_satisfaction(reads)
    )


def _active(memo: dict[str, Any] | None) -> tuple[list[ActivePolicy], PolicyReads]:
    found = memo.get("sla_policies") if memo is not None else None
    if found is not None:
        return found
    found = config_cached("sla_policies", _read_active, memo)
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
