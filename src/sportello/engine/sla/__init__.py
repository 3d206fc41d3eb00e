"""SLA policies and the clocks they measure: a pure model of targets, pauses, breaches, warnings
and escalations for one ticket. Plain data in, plain data out; no clock, no I/O.

A policy, as admins write it (YAML or JSON, read by `parse_policy`, written back by
`policy_to_data`):

    key: vip
    name: VIP customers
    position: 10                       # first match by position (then key) wins
    when: {field: requester.vip, op: is, value: true}
    calendar: emea                     # business calendar key; none: 24/7 calendar time
    targets:                           # per metric, per priority (low, normal, high, urgent)
      first_response: {urgent: {within: 30m}, high: {within: 2h, business: true}}
      next_response:  {high: {within: 4h, business: true}}
      periodic_update: {high: {within: 1d}}
      resolution:     {high: {within: 3d, business: true}}
    warnings:                          # built-in "approaching breach" (Zendesk has none, §3.3)
      - {at_percent: 80}               # 80 % of the target consumed
      - {before: 15m, metrics: [first_response]}   # 15 minutes of the metric's time left
    escalations:                       # the ladder; offsets from the breach, in the metric's time
      - {after_breach: -30m, actions: [{notify: {template: sla_soon, to: [assignee]}}]}
      - {after_breach: 0m, actions: [{set: {field: ticket.priority, value: urgent}}]}
      - {after_breach: 2h, actions: [{assign: {team: 4}}], metrics: [resolution]}
    pause_in: [pending, on_hold]       # default; a subset of pending, on_hold
    pause_first_response: false        # default (Zendesk); true pauses it too (Zoho On Hold)

`within` uses the duration syntax of time rules (`90m`, `1h30m`, `2d`; a day is 24 hours of the
target's own time); `business` defaults to false and needs the policy's `calendar`. `when` uses
the condition language on the ticket's state: event-only facts and change operators are refused
(the policy is chosen again on every change; it must not depend on what the change was).
Escalation actions are those of rules (no `reply`: nobody signs it; no `stop`). A warning or
level applies to every metric unless `metrics` names some; the levels of one metric are in
increasing order of `after_breach`.

Time. Each clock counts its metric's own time through a `Clock`: `CalendarTime` for calendar
targets, the policy's business calendar (an adapter over `engine.calendars`) for business
ones; `clocks` maps calendar keys to them. `consumed` is always in the clock's own time.

Metrics (reference: automation-semantics.md §3.2 Zendesk, §4.4 Zoho, §7.6 the unified engine):
- first_response: starts when a customer creates the ticket (`Created(customer_message=True)`;
  a ticket an agent opens has none, as Zendesk's first reply time needs an end-user request);
  fulfilled by the first public agent reply. One instance per ticket. Not paused by status
  unless `pause_first_response` (Zendesk: "not status-paused"; Zoho freezes all timers On Hold).
- next_response: starts at a customer message when no first_response or next_response clock is
  running, so it measures from the *oldest unanswered* customer message (Zendesk); later
  messages before the reply start nothing. Fulfilled by the next public agent reply. A new
  instance per unanswered stretch.
- periodic_update: each public agent reply fulfils the running instance and starts a new one
  while the ticket is not solved: the longest silence of the agents. With `pending` in
  `pause_in` it is Zendesk's "pausable update"; leave pending out for its "periodic update".
- resolution: starts at creation, fulfilled when the ticket is solved (or closed). Reopening
  resumes the *same* instance with the time already consumed, treating Solved as a pause
  (Zendesk's work/wait metrics, §3.2 "reopen behaviour"; Zoho "old due times restored").
- Solving stops every running clock as fulfilled, reply clocks included: a solved ticket awaits
  no reply [inferred]. Messages on a solved ticket start nothing: the caller reopens it first.
- Merge: the merged ticket's running clocks are superseded (`Merged`), neither met nor missed;
  an unanswered customer message moved onto the other ticket is a `CustomerMessage` there
  whose wait began when the message arrived (`waiting_since`).
- Every clock but first_response (by default) pauses while the status category is in the
  policy's `pause_in`; resuming moves `due_at` by exactly the paused time of the clock's kind
  (Zoho On Hold: "old due time + time On Hold, over the SLA's business hours", §4.4).

Clocks follow the ticket whatever the policy: a metric without a target (no policy, or none for
the ticket's priority) is measured all the same, in calendar time, with no deadline. A target
that appears later (priority raised, another policy) then applies to the wait as it really
began: a VIP's first response is measured from the ticket's creation.

Breach. `due_at` is the instant the clock reaches its target if nothing pauses or stops it.
An active clock is breached at `due_at`, stamped as `breached_at` at that true instant by the
next change or `Tick` (§7.6: not at detection time). A target that is already exceeded when it
starts applying (priority or policy change, reflow) is breached at that change, as Zendesk
records it: the target did not apply before. A breached clock runs on until fulfilled;
`breached_at` is history and stays.

Changes and their effects on the running clocks:
- priority: the same instances, new targets: consumed stays, `due_at` is recomputed.
- policy (any change whose `policy` differs from the state's, or `PolicyChanged`): running
  clocks are superseded and new instances start with the same `started_at` and the consumed
  time carried, for every metric (§7.6 says so for cumulative metrics; a reply clock is
  cumulative too: the customer has been waiting since its start, whatever the policy).
- a target of another kind or calendar: consumed is measured again over the clock's `runs`
  (the intervals it ran) in the new kind.
- reflow (a policy or calendar edited): `due_at` of open clocks recomputed; history stays.
Callers apply status changes before the message of the same mutation (a customer reply on a
pending ticket: `StatusChanged("open")`, then `CustomerMessage()`), so clocks start in the
right state.

Timers (`timers_for`): the warnings, the breach and the escalation levels of every active
targeted clock, each at the instant the clock's consumed time reaches its threshold (a warning
at p %: p % of the target; `before: d`: target - d; a level: target + after_breach, negative
offsets walking backwards in the metric's own time). A threshold already passed when the current
run began is not planned again (it fired then); keys `(metric, instance, kind, level)` make each
fire once per clock instance.
"""

from __future__ import annotations

from sportello.engine.sla.clocks import (
    RUNNING as RUNNING,
)
from sportello.engine.sla.clocks import (
    AgentReply as AgentReply,
)
from sportello.engine.sla.clocks import (
    Change as Change,
)
from sportello.engine.sla.clocks import (
    ClockState as ClockState,
)
from sportello.engine.sla.clocks import (
    ClockStatus as ClockStatus,
)
from sportello.engine.sla.clocks import (
    Created as Created,
)
from sportello.engine.sla.clocks import (
    CustomerMessage as CustomerMessage,
)
from sportello.engine.sla.clocks import (
    Merged as Merged,
)
from sportello.engine.sla.clocks import (
    PolicyChanged as PolicyChanged,
)
from sportello.engine.sla.clocks import (
    PriorityChanged as PriorityChanged,
)
from sportello.engine.sla.clocks import (
    Remaining as Remaining,
)
from sportello.engine.sla.clocks import (
    SlaEvent as SlaEvent,
)
from sportello.engine.sla.clocks import (
    SlaState as SlaState,
)
from sportello.engine.sla.clocks import (
    SlaTimer as SlaTimer,
)
from sportello.engine.sla.clocks import (
    StatusChanged as StatusChanged,
)
from sportello.engine.sla.clocks import (
    Tick as Tick,
)
from sportello.engine.sla.clocks import (
    apply_change as apply_change,
)
from sportello.engine.sla.clocks import (
    next_breach as next_breach,
)
from sportello.engine.sla.clocks import (
    reflow as reflow,
)
from sportello.engine.sla.clocks import (
    remaining as remaining,
)
from sportello.engine.sla.clocks import (
    timers_for as timers_for,
)
from sportello.engine.sla.data import (
    clock_from_data as clock_from_data,
)
from sportello.engine.sla.data import (
    clock_to_data as clock_to_data,
)
from sportello.engine.sla.data import (
    event_to_data as event_to_data,
)
from sportello.engine.sla.data import (
    state_from_data as state_from_data,
)
from sportello.engine.sla.data import (
    state_to_data as state_to_data,
)
from sportello.engine.sla.policy import (
    BREACHED as BREACHED,
)
from sportello.engine.sla.policy import (
    CALENDAR_TIME as CALENDAR_TIME,
)
from sportello.engine.sla.policy import (
    CATEGORIES as CATEGORIES,
)
from sportello.engine.sla.policy import (
    DEFAULT_PAUSE_IN as DEFAULT_PAUSE_IN,
)
from sportello.engine.sla.policy import (
    DONE as DONE,
)
from sportello.engine.sla.policy import (
    ESCALATIONS_MAX as ESCALATIONS_MAX,
)
from sportello.engine.sla.policy import (
    FIRST_RESPONSE as FIRST_RESPONSE,
)
from sportello.engine.sla.policy import (
    FULFILLED as FULFILLED,
)
from sportello.engine.sla.policy import (
    METRICS as METRICS,
)
from sportello.engine.sla.policy import (
    NEXT_RESPONSE as NEXT_RESPONSE,
)
from sportello.engine.sla.policy import (
    PAUSABLE as PAUSABLE,
)
from sportello.engine.sla.policy import (
    PAUSED as PAUSED,
)
from sportello.engine.sla.policy import (
    PERIODIC_UPDATE as PERIODIC_UPDATE,
)
from sportello.engine.sla.policy import (
    REPLY_METRICS as REPLY_METRICS,
)
from sportello.engine.sla.policy import (
    RESOLUTION as RESOLUTION,
)
from sportello.engine.sla.policy import (
    RESUMED as RESUMED,
)
from sportello.engine.sla.policy import (
    RETARGETED as RETARGETED,
)
from sportello.engine.sla.policy import (
    STARTED as STARTED,
)
from sportello.engine.sla.policy import (
    SUPERSEDED as SUPERSEDED,
)
from sportello.engine.sla.policy import (
    WARNINGS_MAX as WARNINGS_MAX,
)
from sportello.engine.sla.policy import (
    CalendarTime as CalendarTime,
)
from sportello.engine.sla.policy import (
    Clock as Clock,
)
from sportello.engine.sla.policy import (
    EscalationLevel as EscalationLevel,
)
from sportello.engine.sla.policy import (
    SlaPolicy as SlaPolicy,
)
from sportello.engine.sla.policy import (
    SlaWarning as SlaWarning,
)
from sportello.engine.sla.policy import (
    Target as Target,
)
from sportello.engine.sla.policy import (
    check_category as check_category,
)
from sportello.engine.sla.policy import (
    check_priority as check_priority,
)
from sportello.engine.sla.policy import (
    clock_for as clock_for,
)
from sportello.engine.sla.policy import (
    microseconds as microseconds,
)
from sportello.engine.sla.policy import (
    parse_policies as parse_policies,
)
from sportello.engine.sla.policy import (
    parse_policy as parse_policy,
)
from sportello.engine.sla.policy import (
    policies_to_data as policies_to_data,
)
from sportello.engine.sla.policy import (
    policy_to_data as policy_to_data,
)
from sportello.engine.sla.policy import (
    select_policy as select_policy,
)
