"""Django settings. Everything that differs between a laptop and production comes from the
environment: DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS, SPORTELLO_ENV, SPORTELLO_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NotRequired, TypedDict

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from sportello.core.dburl import parse_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
DATA_DIR = Path(os.environ.get("SPORTELLO_DATA_DIR", PROJECT_DIR / "var"))

ENV = os.environ.get("SPORTELLO_ENV", "development")
PRODUCTION = ENV == "production"
DEBUG = os.environ.get("DEBUG", "0" if PRODUCTION else "1") == "1"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = "insecure-development-key-" + "x" * 40

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost").split(",")
]
ALLOWED_HOSTS = [h for h in ALLOWED_HOSTS if h]
if not PRODUCTION:
    ALLOWED_HOSTS += ["testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "ninja",
    "sportello.core",
    "sportello.accounts",
    "sportello.contacts",
    "sportello.tickets",
    "sportello.outbox",
    "sportello.channels",
    "sportello.automation",
    "sportello.ticket_tasks",
    "sportello.sla",
    "sportello.blueprints",
    "sportello.notifications",
    "sportello.inbox",
    "sportello.web",
    "sportello.queues",
    "sportello.console",
    "sportello.kb",
    "sportello.surveys",
    "sportello.portal",
    "sportello.reports",
]

MIDDLEWARE = [
    "sportello.core.http.ApiJsonErrorsMiddleware",  # first: every answer under /api/ passes it
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "sportello.core.ratelimit.ApiRateLimitMiddleware",
    "sportello.core.http.ApiContentTypeMiddleware",
    "sportello.core.config.ReadOnceMiddleware",  # a page reads the configuration's signatures once
]

# What reacts to every ticket change, in order (`tickets.extensions`): each phase of the change
# pipeline calls the extensions that define it, in this order.
SPORTELLO_TICKET_EXTENSIONS = [
    "sportello.automation.extension.EventRules",
    "sportello.sla.extension.SlaClocks",
    "sportello.sla.extension.Tiers",
    "sportello.blueprints.extension.Blueprints",
    "sportello.automation.extension.TimeRuleTimers",
    "sportello.surveys.extension.Surveys",
    "sportello.notifications.extension.ReplyMail",
    "sportello.outbox.extension.Outbox",
    "sportello.automation.extension.Assignment",
    "sportello.inbox.extension.AgentNotifications",
    "sportello.kb.extension.ArticleLinks",
    "sportello.reports.extension.Rollups",
]

ROOT_URLCONF = "sportello.urls"
CSRF_FAILURE_VIEW = "sportello.core.http.csrf_failure"
WSGI_APPLICATION = "sportello.wsgi.application"

# Every form's controls name their help and inline error (aria-describedby, aria-invalid).
FORM_RENDERER = "sportello.web.fields.DeskFormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "sportello.portal.context.portal",  # portal_brand, portal_contact (lazy)
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL", ""), default_sqlite_path=DATA_DIR / "sportello.sqlite3"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("it", _("Italian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Never under STATIC or a public URL: attachments are served only by a permission-checked view.
        "OPTIONS": {"location": str(DATA_DIR / "attachments"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        # The worker claims from these in turn (round robin): e-mail never waits behind webhooks.
        "QUEUES": ["default", "email", "webhook"],
    }
}


class SportelloSettings(TypedDict):
    """The keys of `SPORTELLO` and the type of each (what they mean: below, with their values)."""

    ATTACHMENT_MAX_BYTES: int
    MESSAGE_MAX_CHARS: int
    API_PAGE_SIZE: int
    API_PAGE_SIZE_MAX: int
    WEBHOOK_ALLOW: list[str]
    WEBHOOK_CONNECT_TIMEOUT: float
    WEBHOOK_TOTAL_TIMEOUT: float
    WEBHOOK_MAX_RESPONSE_BYTES: int
    WEBHOOK_MAX_IN_FLIGHT: int
    WEBHOOK_RETRY_WINDOW: float
    WEBHOOK_SECRET_GRACE: float
    OUTBOX_MAX_ATTEMPTS: int
    OUTBOX_RETRY_BASE: float
    OUTBOX_RETRY_CAP: float
    OUTBOX_LEASE: float
    POLL_MAX_SLEEP: float
    WORKER_HEARTBEAT_EVERY: float
    WORKER_DEAD_AFTER: float
    WORKER_RECOVER_EVERY: float
    TASK_MAX_RECOVERIES: int
    TASK_RESULT_RETENTION_DAYS: int
    TIMER_MAX_ATTEMPTS: int
    TIMER_RETRY_BASE: float
    TIMER_RETRY_CAP: float
    RULE_TRACE_RETENTION_DAYS: int
    CAUSATION_DEPTH_MAX: int
    SLA_ON_CHANGE: str
    REPORTS_TIME_ZONE: str
    PUBLIC_URL: str
    PORTAL_URL: str
    MAIL_DOMAIN: str
    MAIL_MAX_BYTES: int
    MAIL_MAX_PARTS: int
    MAIL_MAX_ATTACHMENTS: int
    MAIL_AUTO_REPLIES_PER_DAY: int
    MAIL_REOPENS_PER_HOUR: int
    MAIL_FLOOD_PER_5_MINUTES: int
    MAIL_FLOOD_BLOCK_SECONDS: int
    MAIL_HUMAN_SENDERS: list[str]
    MAIL_RETRY_WINDOW: float
    IMAP_BATCH: int
    IMAP_LEASE: float
    IMAP_TIMEOUT: float
    IMAP_PROBE_TIMEOUT: float
    IMAP_EVERY: float
    SIGNIN_FREE_FAILURES_ACCOUNT: int
    SIGNIN_FREE_FAILURES_ADDRESS: int
    SIGNIN_BLOCK_BASE: float
    SIGNIN_BLOCK_MAX: float
    SIGNIN_FORGET_AFTER: float
    API_RATE_LIMIT: int
    API_RATE_WINDOW: float
    # Automatic notifications to one customer per hour (notifications.limits): 10 when unset.
    CUSTOMER_NOTIFICATIONS_PER_HOUR: NotRequired[int]
    CONTACTS_IMPORT_MAX_BYTES: int
    CONTACTS_IMPORT_MAX_ROWS: int
    # Minutes a customer portal's sign-in link works (portal.services): 15 when unset.
    PORTAL_LINK_MINUTES: NotRequired[int]


SPORTELLO: SportelloSettings = {
    "ATTACHMENT_MAX_BYTES": int(os.environ.get("SPORTELLO_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)),
    "MESSAGE_MAX_CHARS": 200_000,
    "API_PAGE_SIZE": 50,
    "API_PAGE_SIZE_MAX": 200,
    # Webhooks: destinations allowed although private/loopback/link-local (CIDRs or host names).
    "WEBHOOK_ALLOW": [h for h in os.environ.get("SPORTELLO_WEBHOOK_ALLOW", "").split(",") if h.strip()],
    "WEBHOOK_CONNECT_TIMEOUT": 5.0,  # seconds
    "WEBHOOK_TOTAL_TIMEOUT": 10.0,  # seconds, connect to last byte read: one attempt's bound
    "WEBHOOK_MAX_RESPONSE_BYTES": 64 * 1024,
    # Deliveries in flight at once to one destination (scheme://host:port); more wait their turn.
    "WEBHOOK_MAX_IN_FLIGHT": 2,
    # A webhook refused for a temporary reason is retried at least this long (seconds), then
    # parked (kept, listed for admins, retried on request).
    "WEBHOOK_RETRY_WINDOW": 24 * 3600.0,
    # After a webhook secret is rotated, its previous value keeps signing (a second signature
    # header) this long (seconds), so receivers can switch at their pace.
    "WEBHOOK_SECRET_GRACE": 24 * 3600.0,
    # Outbox retries: full-jitter exponential back-off, delay in [0, min(CAP, BASE * 2**(n-1))].
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_RETRY_BASE": 10.0,  # seconds
    "OUTBOX_RETRY_CAP": 3600.0,  # seconds
    "OUTBOX_LEASE": 120.0,  # seconds an attempt may stay in flight before it counts as lost
    # The worker.
    "POLL_MAX_SLEEP": 1.0,  # seconds; pollers' new work is seen within this
    "WORKER_HEARTBEAT_EVERY": 5.0,  # seconds, from a thread of its own (a long task does not stop it)
    "WORKER_DEAD_AFTER": 30.0,  # seconds without a heartbeat before its running tasks are recovered
    "WORKER_RECOVER_EVERY": 10.0,  # seconds between two checks for dead workers, in every worker
    "TASK_MAX_RECOVERIES": 3,  # then the task is marked failed
    "TASK_RESULT_RETENTION_DAYS": 14,  # finished task results, slot rows, recovery records
    # Exact timers (time rules, SLA levels, blueprint limits, task reminders) whose firing fails:
    # retried after TIMER_RETRY_BASE seconds doubled per attempt (at most TIMER_RETRY_CAP), then
    # parked after TIMER_MAX_ATTEMPTS attempts until an admin retries or discards them.
    "TIMER_MAX_ATTEMPTS": 5,
    "TIMER_RETRY_BASE": 30.0,  # seconds
    "TIMER_RETRY_CAP": 3600.0,  # seconds
    # Rule traces of changes on which no rule fired, failed or reached its cap ("why did this
    # rule not fire?") are kept this many days; the traces of rules that acted are kept.
    "RULE_TRACE_RETENTION_DAYS": int(os.environ.get("SPORTELLO_RULE_TRACE_RETENTION_DAYS", 30)),
    # Writes arriving through the API with `X-Sportello-Depth` above this are refused (loops).
    "CAUSATION_DEPTH_MAX": int(os.environ.get("SPORTELLO_CAUSATION_DEPTH_MAX", 5)),
    # When an SLA policy or a business calendar changes, running clocks keep their due instants
    # ("keep") or are recomputed by a background job ("reflow"); a save may say otherwise.
    # The days of reports' daily figures are local dates here (`sportello reports rebuild` after a
    # change).
    "REPORTS_TIME_ZONE": os.environ.get("SPORTELLO_REPORTS_TIME_ZONE", TIME_ZONE),
    "SLA_ON_CHANGE": os.environ.get("SPORTELLO_SLA_ON_CHANGE", "keep"),
    # Where people reach the desk: the agents' interface, and the customer portal's root when
    # there is one (notifications link to it; without one they carry no link).
    "PUBLIC_URL": os.environ.get("SPORTELLO_PUBLIC_URL", "http://127.0.0.1:8000"),
    "PORTAL_URL": os.environ.get("SPORTELLO_PORTAL_URL", ""),
    # E-mail. Our Message-IDs end in @MAIL_DOMAIN (replies naming one thread to its ticket; one
    # of ours coming back in is a loop). Messages above MAIL_MAX_BYTES are quarantined.
    "MAIL_DOMAIN": os.environ.get("SPORTELLO_MAIL_DOMAIN", "sportello.localhost"),
    "MAIL_MAX_BYTES": int(os.environ.get("SPORTELLO_MAIL_MAX_BYTES", 25 * 1024 * 1024)),
    "MAIL_MAX_PARTS": 500,
    "MAIL_MAX_ATTACHMENTS": 100,
    # Loops and floods: automatic replies per recipient per day, reopenings by mail per ticket
    # per hour, messages per sender per 5 minutes before the sender is throttled for an hour.
    "MAIL_AUTO_REPLIES_PER_DAY": 10,
    "MAIL_REOPENS_PER_HOUR": 3,
    "MAIL_FLOOD_PER_5_MINUTES": 30,
    "MAIL_FLOOD_BLOCK_SECONDS": 3600,
    # Senders whose `Auto-Submitted: auto-generated` mail is written by people (a ticketing
    # system relaying its users' replies): their mail counts as human.
    "MAIL_HUMAN_SENDERS": [
        a.strip().lower() for a in os.environ.get("SPORTELLO_MAIL_HUMAN_SENDERS", "").split(",") if a.strip()
    ],
    # Outbound mail refused for a temporary reason is retried at least this long (seconds).
    "MAIL_RETRY_WINDOW": 24 * 3600.0,
    # IMAP: messages fetched per poll per mailbox; a poller's lease on its mailbox.
    "IMAP_BATCH": 50,
    "IMAP_LEASE": 300.0,  # seconds
    "IMAP_TIMEOUT": 30.0,  # seconds per network operation
    "IMAP_PROBE_TIMEOUT": 10.0,  # seconds for a whole "test connection", DNS to logout
    "IMAP_EVERY": 60.0,  # seconds between two polls of a mailbox
    # Sign-in throttling (accounts.signin), per account and per client address: past the free
    # failures each failure blocks the key for BASE seconds, doubled each time, at most MAX; a
    # count is forgotten FORGET_AFTER seconds after its last failure.
    "SIGNIN_FREE_FAILURES_ACCOUNT": int(os.environ.get("SPORTELLO_SIGNIN_FREE_FAILURES_ACCOUNT", 5)),
    "SIGNIN_FREE_FAILURES_ADDRESS": int(os.environ.get("SPORTELLO_SIGNIN_FREE_FAILURES_ADDRESS", 20)),
    "SIGNIN_BLOCK_BASE": 30.0,  # seconds
    "SIGNIN_BLOCK_MAX": 3600.0,  # seconds
    "SIGNIN_FORGET_AFTER": 24 * 3600.0,  # seconds
    # API rate limit (core.ratelimit): requests per token per fixed window of API_RATE_WINDOW
    # seconds; 0 turns it off. Over it: 429 with Retry-After.
    "API_RATE_LIMIT": int(os.environ.get("SPORTELLO_API_RATE_LIMIT", 600)),
    "API_RATE_WINDOW": float(os.environ.get("SPORTELLO_API_RATE_WINDOW", 60)),
    # CSV import of contacts (contacts.transfer): a larger file, or one with more rows, is
    # refused whole with a clear error (split it).
    "CONTACTS_IMPORT_MAX_BYTES": int(os.environ.get("SPORTELLO_CONTACTS_IMPORT_MAX_BYTES", 10 * 1024 * 1024)),
    "CONTACTS_IMPORT_MAX_ROWS": int(os.environ.get("SPORTELLO_CONTACTS_IMPORT_MAX_ROWS", 100_000)),
    # The customer portal's sign-in links work once, this many minutes.
    "PORTAL_LINK_MINUTES": int(os.environ.get("SPORTELLO_PORTAL_LINK_MINUTES", 15)),
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # also the API's JSON body limit (413 above)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

_MAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": _MAIL_BACKEND,
        # The SMTP relay (only read by the SMTP backend). A timeout keeps a hung relay from
        # holding a worker past its delivery lease.
        **(
            {
                "OPTIONS": {
                    "host": os.environ.get("EMAIL_HOST", "127.0.0.1"),
                    "port": int(os.environ.get("EMAIL_PORT", 25)),
                    "username": os.environ.get("EMAIL_HOST_USER", ""),
                    "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                    "use_tls": os.environ.get("EMAIL_USE_TLS", "0") == "1",
                    "use_ssl": os.environ.get("EMAIL_USE_SSL", "0") == "1",
                    "timeout": float(os.environ.get("EMAIL_TIMEOUT", 30)),
                }
            }
            if _MAIL_BACKEND.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@sportello.localhost")

# Security: safe defaults everywhere, strict in production.
# Content Security Policy on every page: scripts only from us; images only from us (a customer's
# HTML mail may reference remote images — trackers, read receipts — and the agent's browser must
# not fetch them); inline styles allowed (htmx's indicator style).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = [f"https://{h}" for h in ALLOWED_HOSTS if h and not h.startswith(".")]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The handler's level matters: loggers that set their own level (the worker's) propagate here.
    "handlers": {
        "console": {"class": "logging.StreamHandler", "level": os.environ.get("LOG_LEVEL", "WARNING")}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
