"""Tickets, their conversation, attachments, audit events, statuses and custom fields."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from sportello.accounts.models import Department, Team
from sportello.contacts.models import Contact, Organization

SUBJECT_MAX_LENGTH = 250  # a ticket's subject
MESSAGE_SUBJECT_MAX_LENGTH = 10_000  # the subject an e-mail message arrived with, kept whole


class StatusCategory(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


UNRESOLVED_CATEGORIES = (
    StatusCategory.NEW,
    StatusCategory.OPEN,
    StatusCategory.PENDING,
    StatusCategory.ON_HOLD,
)


class Status(models.Model):
    """A status is data; each maps to one fixed category that clocks and metrics key off."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    category = models.CharField(max_length=10, choices=StatusCategory.choices)
    position = models.PositiveSmallIntegerField(default=0)
    is_default = models.BooleanField(default=False, help_text="Default status of its category.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "category", condition=Q(is_default=True), name="tickets_status_one_default_per_category"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Priority(models.IntegerChoices):
    LOW = 1, "low"
    NORMAL = 2, "normal"
    HIGH = 3, "high"
    URGENT = 4, "urgent"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEB = "web", "Web"
    PORTAL = "portal", "Portal"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    API = "api", "API"


_UNRESOLVED = models.Q(status_category__in=[str(c) for c in UNRESOLVED_CATEGORIES])


class Ticket(models.Model):
    number = models.BigIntegerField(unique=True)
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH)
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="+")
    status_category = models.CharField(max_length=10, choices=StatusCategory.choices)  # denormalised
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    # Foreign keys led by a composite index below carry no index of their own (one write less).
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        db_index=False,
    )
    # Indexed with the department (`tk_requester`, `tk_org`), below.
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets", db_index=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        db_index=False,
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Counts kept by the pipeline (conditions and metrics read them without a join).
    message_count = models.PositiveIntegerField(default=0)
    customer_message_count = models.PositiveIntegerField(default=0)
    agent_reply_count = models.PositiveIntegerField(default=0)
    # Anchors of time rules, kept by the pipeline: when the current status and status category
    # were entered, when the current assignee was set, the last customer message and agent
    # reply, and the last change not made by automation (time rules, SLA, blueprints).
    status_entered_at = models.DateTimeField(null=True, blank=True)
    status_category_entered_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_reply_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Links between tickets, set once by the change that makes them: the ticket this one was
    # merged into (it closed then; `tickets.merge`), and the closed ticket this one follows up
    # (`services.ticket_followup_open`, the mail intake). Never changed afterwards.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_from"
    )
    follow_up_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The agent list: a department's unresolved tickets by priority then age.
            models.Index(
                fields=["department", "status_category", "-priority", "created_at"], name="tk_dept_queue"
            ),
            models.Index(fields=["assignee", "status_category"], name="tk_assignee"),
            models.Index(fields=["updated_at", "id"], name="tk_updated"),
            models.Index(fields=["team", "status_category"], name="tk_team"),
            # A customer's and an organization's tickets, counted within an agent's
            # departments from the index alone (the customer panel: an organization holds
            # tens of thousands of tickets).
            models.Index(fields=["requester", "department"], name="tk_requester"),
            models.Index(fields=["organization", "department"], name="tk_org"),
            # The Desk's views of unresolved tickets (a small share of a desk's tickets): the
            # sidebar counts a department's entries without reading the tickets (the columns
            # its views test are included, and the id that "At risk and breached" looks up in
            # the SLA's sets), and each sortable column has an index of its own
            # in which a page is the first rows in order, whichever departments the agent sees.
            models.Index(
                fields=[
                    "department",
                    "status_category",
                    "assignee",
                    "requester",
                    "organization",
                    "last_customer_message_at",
                    "last_agent_reply_at",
                    "customer_message_count",
                    "id",
                ],
                condition=_UNRESOLVED,
                name="tk_open_dept",
            ),
            models.Index(
                fields=["-priority", "created_at", "id"], condition=_UNRESOLVED, name="tk_open_prio"
            ),
            *(
                models.Index(fields=[column, "id"], condition=_UNRESOLVED, name=f"tk_open_{name}")
                for name, column in (
                    ("number", "number"),
                    ("subject", "subject"),
                    ("status", "status_category"),
                    ("priority", "priority"),
                    ("updated", "updated_at"),
                    ("created", "created_at"),
                )
            ),
            # "Recently solved": the tickets solved since an instant (and their departments).
            models.Index(
                fields=["solved_at", "department", "status_category"],
                condition=models.Q(solved_at__isnull=False),
                name="tk_solved",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"


class TicketTag(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="tags", db_index=False)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("ticket", "name", name="tickets_tag_unique")]
        indexes = [models.Index(fields=["name", "ticket"], name="tk_tag_name")]

    def __str__(self) -> str:
        return self.name


class AuthorKind(models.TextChoices):
    AGENT = "agent", "Agent"
    CONTACT = "contact", "Contact"
    SYSTEM = "system", "System"


class Message(models.Model):
    """A public reply or an internal note. Append-only: never updated, never deleted by the app."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False)
    public = models.BooleanField(default=True)
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")  # sanitised with nh3 before it is stored
    # Quoted history of an e-mail reply, split from `body_text` (collapsed in views, never lost).
    quoted_text = models.TextField(blank=True, default="")
    # The subject an e-mail message arrived with, whole (a ticket's subject is fitted to its
    # length); empty for messages written in the desk.
    subject = models.TextField(blank=True, default="")
    via = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    change_id = models.UUIDField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="msg_ticket")]

    def __str__(self) -> str:
        return f"message {self.pk} on ticket {self.ticket_id}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    storage_key = models.CharField(max_length=64, unique=True)  # generated; never the client's name
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    uploaded_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    """Every kind of audit event the pipeline and its extensions record (`TicketEvent.kind`).
    A kind's `field` says what happened within it (a field's name, `sla`'s `started`, …). The
    agent UI has one renderer per kind; a test fails when a kind has none."""

    CREATED = "created", "Created"
    FIELD = "field", "Field changed"
    TAGS = "tags", "Tags changed"
    MESSAGE = "message", "Message"
    ATTACHMENT = "attachment", "Attachment"
    REFUSED = "refused", "Change refused"
    NOTIFICATION = "notification", "Notification"
    DELIVERY = "delivery", "Delivery"
    MAIL = "mail", "Mail"
    TASK = "task", "Task"
    ASSIGNMENT = "assignment", "Round-robin assignment"
    SLA = "sla", "SLA"
    TIER = "tier", "Tier"
    BLUEPRINT = "blueprint", "Blueprint"
    MERGE = "merge", "Merge"
    SPLIT = "split", "Split"
    RATING = "rating", "Satisfaction rating"


# A `notification` event's field: a mail the requester would have had (an agent's reply, a
# rule's notification), not sent because they have no e-mail address (a caller known by their
# phone).
NOTIFICATION_NO_ADDRESS = "no_address"


class TicketEvent(models.Model):
    """The audit trail: one row per change, grouped by the mutation (`change_id`) that made it.

    A `field` (or `tags`) event is one field from `old_value` to `new_value`; a `message` event
    one message (`new_value`: `message_id`, `author_kind`; `field`: `public` or `internal`). A new
    ticket is opened by one `created` event whose `new_value` carries its number, the values its
    creator set and its first message (`{"number", "values": {field: value}, "message":
    {"message_id", "author_kind", "public"}}`, see `tickets.audit.opening_value`); what
    automation changed at creation follows as events of their own under the rule, clock or
    blueprint. Tickets opened before have a bare `created` event (`{"number"}`) followed by one
    event per initial field and a `message` event; `tickets.audit.expand` reads both alike."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", db_index=False)
    change_id = models.UUIDField(default=uuid.uuid4)
    at = models.DateTimeField()
    kind = models.CharField(max_length=30)  # an EventKind
    field = models.CharField(max_length=80, blank=True, default="")
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor_kind = models.CharField(max_length=10)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=200, blank=True, default="")
    via = models.CharField(max_length=10)
    cause = models.CharField(max_length=200, blank=True, default="")
    depth = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "at"], name="ev_ticket"),
            models.Index(fields=["field", "at"], name="ev_field_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.field} on {self.ticket_id}"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DECIMAL = "decimal", "Decimal"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "Boolean"
    PICKLIST = "picklist", "Picklist"
    MULTI_SELECT = "multi_select", "Multi-select"


class CustomField(models.Model):
    key = models.SlugField(max_length=63, unique=True)
    label = models.CharField(max_length=120)
    type = models.CharField(max_length=15, choices=FieldType.choices)
    options = models.JSONField(default=list, blank=True)  # [{"value": ..., "label": ...}]
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.key


class Requirement(models.TextChoices):
    """Whether agents must fill a layout's field, and when (`engine.fields`)."""

    NONE = "none", "Optional"
    TO_SOLVE = "to_solve", "Required to solve"
    ALWAYS = "always", "Required on every change"


class CustomerAccess(models.TextChoices):
    """What the ticket's customer may do with a layout's field (`engine.fields`): agents always
    see and edit every field of the layout."""

    HIDDEN = "hidden", "Can't see"  # agents only: never shown nor sent to the customer
    READ = "read", "Can see"  # the customer sees the value on their ticket, cannot set it
    EDIT = "edit", "Can fill"  # the customer sees it and fills it on their form


class LayoutField(models.Model):
    """One row of a department's layout: the field applies there, maybe required of agents (to
    solve, or on every change) and of the customer (on the customer's form), with what the
    customer may do with it (`customer_access`) and the picklist values allowed in that
    department (null = all of the field's options)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="layout_fields")
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="layouts")
    required = models.CharField(max_length=10, choices=Requirement.choices, default=Requirement.NONE)
    required_from_customer = models.BooleanField(default=False)
    customer_access = models.CharField(
        max_length=6, choices=CustomerAccess.choices, default=CustomerAccess.EDIT
    )
    position = models.PositiveSmallIntegerField(default=0)
    allowed_values = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint("department", "field", name="tickets_layout_unique")]

    def __str__(self) -> str:
        return f"{self.department_id}:{self.field_id}"


class TicketSearchDocument(models.Model):
    """A ticket's text as full-text search sees it (see `tickets/search.py`, docs/adr/0002-search.md).

    Written only by `tickets.search`, inside the pipeline's transaction. Public replies and
    internal notes are kept apart so customers never match on notes. The per-backend index lives
    beside this table, outside the ORM: on PostgreSQL, two stored weighted `tsvector` documents
    (`doc_public`, `doc_all`) with a GIN index each (migration 0005); on SQLite, an FTS5 table
    over these columns (migration 0003).
    """

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    subject = models.TextField(blank=True, default="")
    public_text = models.TextField(blank=True, default="")
    internal_text = models.TextField(blank=True, default="")
    fields_text = models.TextField(blank=True, default="")
    # Characters of message text indexed so far (public + internal), against a fixed budget.
    message_chars = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "tickets_search_document"

    def __str__(self) -> str:
        return f"search document of ticket {self.ticket_id}"


class TicketViewer(models.Model):
    """An agent with the ticket open in the Desk, as their page last said: viewing, or replying
    (the composer holds text). Pages repeat it every few seconds (`tickets.presence`); a row not
    repeated within `presence.PRESENCE_TTL` no longer counts. Shared by every web process."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+", db_index=False)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    replying = models.BooleanField(default=False)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint("ticket", "agent", name="tickets_viewer_unique")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} on ticket {self.ticket_id}"
