"""The knowledge base: categories and sections, articles with one translation per language, each
translation with its own state (draft, internal, public), its versions, votes and view count.

An article is the language-independent thing (where it sits, which departments it serves, what
it relates to, the ticket it came from); what readers see is a translation. A translation whose
source-language text changed after it was last saved is marked `outdated` until it is saved
again. Every saved text is kept as an `ArticleVersion`, numbered from 1 per translation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sportello.accounts.models import Department
from sportello.contacts.models import Contact


class ArticleState(models.TextChoices):
    DRAFT = "draft", "Draft"  # agents who edit the knowledge base only
    INTERNAL = "internal", "Internal"  # every agent; never customers
    PUBLIC = "public", "Public"  # everyone, signed in or not


class KbCategory(models.Model):
    """The top level of the knowledge base. `title` and `description` map a language code to the
    text in that language (`{"en": "Orders", "it": "Ordini"}`); a missing language falls back to
    the desk's default language."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.JSONField(default=dict)
    description = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.slug


class KbSection(models.Model):
    """A group of articles inside a category (titles per language as on the category)."""

    category = models.ForeignKey(KbCategory, on_delete=models.PROTECT, related_name="sections")
    slug = models.SlugField(max_length=80)
    title = models.JSONField(default=dict)
    description = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["category", "position", "id"]
        constraints = [models.UniqueConstraint("category", "slug", name="kb_section_slug_unique")]

    def __str__(self) -> str:
        return f"{self.category.slug}/{self.slug}"


class Article(models.Model):
    """The language-independent article. `departments` empty: it serves every department (the
    suggestions filter on it); `source_language` is the language the others are translated
    from (a change to it marks the others outdated)."""

    # A stable name for imports, the demo knowledge base and its evaluation set; optional.
    key = models.SlugField(max_length=80, unique=True, null=True, blank=True)
    section = models.ForeignKey(KbSection, on_delete=models.PROTECT, related_name="articles")
    source_language = models.CharField(max_length=10, default="en")
    departments = models.ManyToManyField(Department, blank=True, related_name="kb_articles")
    related = models.ManyToManyField("self", blank=True, symmetrical=True)
    position = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    is_archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["section", "position", "id"]

    def __str__(self) -> str:
        return f"article {self.pk}"


class ArticleTranslation(models.Model):
    """What readers see of an article in one language. `body_html` is stored sanitised;
    `body_text` is its plain text (search, suggestions, excerpts). `embedding` holds the
    sentence embedding of title + text as little-endian float32 bytes (`embedding_model` names
    the model; a different model means "recompute")."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=10)
    title = models.CharField(max_length=250)
    slug = models.SlugField(max_length=120, allow_unicode=True)
    summary = models.CharField(max_length=500, blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    keywords = models.CharField(max_length=500, blank=True, default="")
    state = models.CharField(max_length=10, choices=ArticleState.choices, default=ArticleState.DRAFT)
    outdated = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)  # the number of its latest ArticleVersion
    view_count = models.PositiveIntegerField(default=0)
    helpful_count = models.PositiveIntegerField(default=0)
    unhelpful_count = models.PositiveIntegerField(default=0)
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["article", "language"]
        constraints = [models.UniqueConstraint("article", "language", name="kb_translation_language_unique")]
        indexes = [models.Index(fields=["language", "state"], name="kb_translation_lang_state")]

    def __str__(self) -> str:
        return f"{self.article_id}/{self.language}@{self.version}"


class ArticleVersion(models.Model):
    """One saved text of a translation. Immutable; restoring version n saves a new version equal
    to it."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=250)
    summary = models.CharField(max_length=500, blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    state = models.CharField(max_length=10, choices=ArticleState.choices)
    note = models.CharField(max_length=300, blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["translation", "number"]
        constraints = [models.UniqueConstraint("translation", "number", name="kb_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.translation_id} v{self.number}"


class ArticleAttachment(models.Model):
    """An image or file of an article, stored in the attachments storage under a generated key.
    Served by a view that checks the article's visibility (public articles' files to anyone)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments")
    storage_key = models.CharField(max_length=64, unique=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class ArticleVote(models.Model):
    """A "Was this helpful?" answer: one vote per reader per translation (`voter` is a stable key: the
    contact's, else a hash of the anonymous reader's session), changeable; an optional comment."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="votes")
    voter = models.CharField(max_length=64)
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [models.UniqueConstraint("translation", "voter", name="kb_vote_once_per_voter")]

    def __str__(self) -> str:
        return f"vote {self.pk} on {self.translation_id}"


class ArticleTicketLink(models.Model):
    """An article written from a ticket ("Save as article"), or linked in a reply to it."""

    class Kind(models.TextChoices):
        SOURCE = "source", "Written from the ticket"
        LINKED = "linked", "Linked in a reply"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="kb_links")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint("article", "ticket", "kind", name="kb_ticket_link_unique"),
        ]
        indexes = [models.Index(fields=["ticket"], name="kb_link_ticket")]

    def __str__(self) -> str:
        return f"article {self.article_id} ↔ ticket {self.ticket_id}"


from .models_suggest import SuggestionAudience, SuggestionEvent  # noqa: E402, F401
