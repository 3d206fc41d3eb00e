"""Departments, agents (the users who log in), teams and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class Department(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    email = models.EmailField(blank=True, default="")
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"
    LIGHT_AGENT = "light_agent", "Light agent"


class AgentStatus(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"  # signed in but not taking new tickets: round robin skips them
    OFFLINE = "offline", "Offline"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        # Only for Django internals (tests, createsuperuser). Product code uses accounts.services.
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser):
    """An agent: someone who works tickets. Customers are `contacts.Contact`."""

    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    status = models.CharField(max_length=10, choices=AgentStatus.choices, default=AgentStatus.OFFLINE)
    language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, default="UTC")
    # Plain text the agent signs replies with (their profile); empty: none.
    signature = models.TextField(blank=True, default="")
    departments = models.ManyToManyField(Department, related_name="agents", blank=True)
    is_active = models.BooleanField(default=True)
    # Reads the reports of their departments (`reports.access`); admins read every department's.
    supervisor = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # When the pending invitation was sent (`services.agent_invite`); None once it is accepted,
    # or for an agent never invited. An invited agent stays inactive until they choose a password.
    invited_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    objects = UserManager()

    # Departments this instance was read as a member of, by whoever read it with that membership
    # in the current transaction (a round-robin pool): `is_member_of` then needs no query.
    known_departments: frozenset[int] = frozenset()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def is_member_of(self, department_id: int) -> bool:
        """A member of the department (admins are not members unless added)."""
        if department_id in self.known_departments:
            return True
        return self.departments.filter(pk=department_id).exists()

    @property
    def is_staff(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.ADMIN

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_active and self.role == Role.ADMIN

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.role == Role.ADMIN


class Team(models.Model):
    name = models.CharField(max_length=120)
    # A stable key, unique in the desk (rules documents name teams by it); never changes.
    slug = models.SlugField(max_length=60, unique=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="teams")
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    email = models.EmailField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("department", "name", name="accounts_team_name_unique")]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the secret is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="")
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class SignInThrottle(models.Model):
    """Failed sign-ins counted under one key (an account's address, or a client's network
    address), shared by every web process: past the free failures, each further failure blocks
    the key for twice as long as the previous one (`accounts.signin`)."""

    key = models.CharField(max_length=300, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


class SignInOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Signed in"
    FAILED = "failed", "Wrong address or password"
    LOCKED = "locked", "Failed, and the account or address is now blocked"
    REFUSED = "refused", "Refused while blocked (password not checked)"


class SignInEvent(models.Model):
    """The audit trail of sign-ins: every failure, block and refusal, and each success."""

    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=SignInOutcome.choices)
    email = models.CharField(max_length=254)  # as typed (cleaned), lower case
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    address = models.CharField(max_length=45, blank=True, default="")
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["at"], name="signin_event_at")]

    def __str__(self) -> str:
        return f"{self.outcome} {self.email} from {self.address}"
