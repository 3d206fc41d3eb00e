"""Blueprints: a department's process as a state machine over ticket statuses (Zoho Desk's
Blueprint; reference §4.5 and §7.7). Pure data and functions: the definition parsed from (and
dumped back to) plain dicts, entry, the transitions an agent may perform, the checks and the
plan of one transition (with the automatic chain of continuous blueprints), the automation
bypass, state time-limit timers, and the dashboard metrics computed from an event log.

Data form (JSON/YAML), read by `parse_blueprint` and written back by `blueprint_to_data`::

    key: returns
    name: Returns
    department: 4                    # id: a blueprint applies to tickets of its department
    priority: 10                     # default 0; when several match, the highest applies (ties: key)
    active: true                     # default true
    entry: {field: ticket.custom.kind, op: is, value: return}   # default {all: []}: every ticket
    initial: received                # a state key or a list of them; default: the first state
    allow_automation_bypass: false   # default false
    states:
      - {key: received, name: Received, status: open}
      - key: awaiting-item
        name: Awaiting the item
        status: pending              # a ticket status key
        time_limit: 5d               # optional; durations as in time rules
        business: true               # default false: the limit counts business time
        escalations:                 # need time_limit; `after` counts from the limit (may be < 0)
          - {after: -1h, actions: [{notify: {to: [assignee], template: bp_limit_near}}]}
          - {after: 0s, actions: [{add_tags: [bp_late]}]}
      - {key: refunded, name: Refunded, status: solved, terminal: true}
    transitions:
      - key: label-sent
        name: Send the return label
        from: received               # a state key, a list of them, or "*" (common: from any state)
        to: awaiting-item
        owners: {agents: [12], teams: [3], roles: [admin], assignee: true, departments: [7]}
        available_when: {field: ticket.custom.order_id, op: present}    # default: always
        during:
          fields:
            - {field: ticket.custom.order_id, required: true, matches: "^[A-Z]{2}[0-9]{6}$",
               min_length: 8, max_length: 8, message: An order id looks like AB123456}
            - {field: ticket.custom.refund_amount, min: 0, max: 500}    # number, date, datetime
            - {field: ticket.custom.reason, allowed_values: [damaged, wrong_item]}   # choices
          note: required             # required | optional | null (not asked; the default)
          attachment: optional       # the same
        after: [{notify: {to: [requester], template: return_label}}]
        auto: false                  # continuous blueprints: runs by itself (see plan_transition)
      - {key: refund, name: Refund, from: awaiting-item, to: refunded, owners: {roles: [admin]}}

Choices made here:
- Initial state: the first of the declared `initial` states whose status is the ticket's
  current status; else, when the current status is that of a terminal state, None (the ticket
  already stands at an end of the process: the blueprint does not attach); else the first
  declared initial state (the caller then sets the ticket's status to that state's status).
  Only declared initial states are matched by status, so a ticket whose status happens to be
  that of a middle state does not skip the steps before it. An initial state is not terminal.
- Validity is checked as a whole and every problem is an error (`RuleSchemaError` with a
  path): unknown state keys, duplicate keys, no terminal state, a transition leaving a terminal
  state, a state that no path from the initial states reaches (`states[i]`), and a non-terminal
  state with no transition out of it (tickets would be stuck there).
- Common transitions (`from: "*"`) leave every non-terminal state except their own target.
- Owners: no owner listed means any actor of the blueprint's department. Otherwise an actor is
  an owner when listed by id, a member of a listed team, of a listed role *and* of the
  blueprint's department, the ticket's assignee (with `assignee: true`), or a member of a
  listed department (a colleague of another department).
- `entry` and `available_when` describe the ticket, not a change (they are evaluated when the
  ticket is shown): no change operators and no event-only facts.
- `during.fields` name writable fields (as `set` actions do), never `ticket.status` (the
  transition sets it). A required field is satisfied by the input or, when the input leaves it
  out, by the ticket's current value; whichever applies is validated. An input of a field the
  transition does not ask for is invalid; an input of null (or blank text) clears the field.
  `matches` is `re.search` (anchor with ^ and $), on texts up to MATCH_INPUT_MAX characters.
- `after` and escalation actions may not `reply` (rules answer through notify or note), `stop`,
  or set `ticket.status` (only transitions move the status). An automatic transition cannot
  require a note or an attachment: nobody is there to give one.
"""

from __future__ import annotations

from sportello.engine.blueprints.definition import (
    ALWAYS as ALWAYS,
)
from sportello.engine.blueprints.definition import (
    AUTOMATION_KINDS as AUTOMATION_KINDS,
)
from sportello.engine.blueprints.definition import (
    CHAIN_MAX as CHAIN_MAX,
)
from sportello.engine.blueprints.definition import (
    COMMON as COMMON,
)
from sportello.engine.blueprints.definition import (
    ESCALATIONS_MAX as ESCALATIONS_MAX,
)
from sportello.engine.blueprints.definition import (
    IDS_MAX as IDS_MAX,
)
from sportello.engine.blueprints.definition import (
    INPUT_FIELDS_MAX as INPUT_FIELDS_MAX,
)
from sportello.engine.blueprints.definition import (
    LENGTH_MAX as LENGTH_MAX,
)
from sportello.engine.blueprints.definition import (
    MESSAGE_MAX as MESSAGE_MAX,
)
from sportello.engine.blueprints.definition import (
    NAME_MAX as NAME_MAX,
)
from sportello.engine.blueprints.definition import (
    REQUIREMENTS as REQUIREMENTS,
)
from sportello.engine.blueprints.definition import (
    ROLES as ROLES,
)
from sportello.engine.blueprints.definition import (
    STATES_MAX as STATES_MAX,
)
from sportello.engine.blueprints.definition import (
    TRANSITIONS_MAX as TRANSITIONS_MAX,
)
from sportello.engine.blueprints.definition import (
    Blueprint as Blueprint,
)
from sportello.engine.blueprints.definition import (
    During as During,
)
from sportello.engine.blueprints.definition import (
    Escalation as Escalation,
)
from sportello.engine.blueprints.definition import (
    FieldInput as FieldInput,
)
from sportello.engine.blueprints.definition import (
    Owners as Owners,
)
from sportello.engine.blueprints.definition import (
    State as State,
)
from sportello.engine.blueprints.definition import (
    Transition as Transition,
)
from sportello.engine.blueprints.definition import (
    blueprint_to_data as blueprint_to_data,
)
from sportello.engine.blueprints.definition import (
    parse_blueprint as parse_blueprint,
)
from sportello.engine.blueprints.definition import (
    state_to_data as state_to_data,
)
from sportello.engine.blueprints.definition import (
    transition_to_data as transition_to_data,
)
from sportello.engine.blueprints.limits import (
    AddBusiness as AddBusiness,
)
from sportello.engine.blueprints.limits import (
    BusinessElapsed as BusinessElapsed,
)
from sportello.engine.blueprints.limits import (
    LimitTimer as LimitTimer,
)
from sportello.engine.blueprints.limits import (
    limit_due as limit_due,
)
from sportello.engine.blueprints.limits import (
    limit_timers as limit_timers,
)
from sportello.engine.blueprints.metrics import (
    BlueprintMetrics as BlueprintMetrics,
)
from sportello.engine.blueprints.metrics import (
    Overdue as Overdue,
)
from sportello.engine.blueprints.metrics import (
    StateChange as StateChange,
)
from sportello.engine.blueprints.metrics import (
    blueprint_metrics as blueprint_metrics,
)
from sportello.engine.blueprints.transitions import (
    INPUT_PROBLEMS as INPUT_PROBLEMS,
)
from sportello.engine.blueprints.transitions import (
    BlueprintActor as BlueprintActor,
)
from sportello.engine.blueprints.transitions import (
    Problem as Problem,
)
from sportello.engine.blueprints.transitions import (
    ProblemCode as ProblemCode,
)
from sportello.engine.blueprints.transitions import (
    TransitionBlocked as TransitionBlocked,
)
from sportello.engine.blueprints.transitions import (
    TransitionInputs as TransitionInputs,
)
from sportello.engine.blueprints.transitions import (
    TransitionPlan as TransitionPlan,
)
from sportello.engine.blueprints.transitions import (
    TransitionStep as TransitionStep,
)
from sportello.engine.blueprints.transitions import (
    available_transitions as available_transitions,
)
from sportello.engine.blueprints.transitions import (
    check_transition as check_transition,
)
from sportello.engine.blueprints.transitions import (
    choose_blueprint as choose_blueprint,
)
from sportello.engine.blueprints.transitions import (
    initial_state as initial_state,
)
from sportello.engine.blueprints.transitions import (
    is_owner as is_owner,
)
from sportello.engine.blueprints.transitions import (
    matches_entry as matches_entry,
)
from sportello.engine.blueprints.transitions import (
    may_bypass as may_bypass,
)
from sportello.engine.blueprints.transitions import (
    plan_transition as plan_transition,
)
