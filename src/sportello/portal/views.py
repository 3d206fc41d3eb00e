"""The customer portal's pages (`/portal/`). Customers are contacts, signed in by a mailed
link or a password into the session key `portal_contact_id` — never an agent's login. Each view
parses, calls one service or selector, and renders; a ticket or file outside the contact's scope
answers 404 exactly as a missing one."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.contacts.models import Contact
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.kb import suggest_views
from sportello.kb.popular import popular_articles
from sportello.surveys.selectors import portal_prompt
from sportello.tickets import attachments as files
from sportello.tickets.models import AuthorKind, StatusCategory
from sportello.web.errors import client_address, error_message

from . import links, selectors, services
from .forms import CUSTOM_PREFIX, EmailForm, PasswordForm, PasswordSignInForm, ReplyForm, RequestForm
from .models import PortalSettings

SESSION_KEY = "portal_contact_id"  # other features read this key
SIGN_IN_ANSWER_SECONDS = 0.25  # the e-mail form's answer takes about this long, known or not

STATUS_LABELS: dict[str, Any] = {
    StatusCategory.NEW: translation.gettext_lazy("Open"),
    StatusCategory.OPEN: translation.gettext_lazy("Open"),
    StatusCategory.PENDING: translation.gettext_lazy("Awaiting your reply"),
    StatusCategory.ON_HOLD: translation.gettext_lazy("In progress"),
    StatusCategory.SOLVED: translation.gettext_lazy("Solved"),
    StatusCategory.CLOSED: translation.gettext_lazy("Closed"),
}


def status_label(category: str) -> str:
    return str(STATUS_LABELS.get(category, category))


# --------------------------------------------------------------------------------------------
# The signed-in contact and their language


def current_contact(request: HttpRequest) -> Contact | None:
    if not hasattr(request, "_portal_contact"):
        request._portal_contact = selectors.contact_for_session(request.session.get(SESSION_KEY))  # type: ignore[attr-defined]
    return request._portal_contact  # type: ignore[attr-defined,no-any-return]


def _activate_language(request: HttpRequest, contact: Contact | None) -> None:
    """A signed-in contact's saved language wins; else the switch's cookie or the browser's
    Accept-Language (LocaleMiddleware); with neither, the portal's default language."""
    code: str | None = None
    if contact is not None and contact.language in services.LANGUAGES:
        code = contact.language
    elif settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and "HTTP_ACCEPT_LANGUAGE" not in request.META:
        code = links.brand()["default_language"]
    if code:
        translation.activate(code)
        request.LANGUAGE_CODE = code


def portal_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        _activate_language(request, current_contact(request))
        return view(request, *args, **kwargs)

    return wrapper


def contact_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if current_contact(request) is None:
            return redirect(f"{reverse('portal:sign_in')}?next={request.path}")
        return view(request, *args, **kwargs)

    return portal_page(wrapper)


def _contact(request: HttpRequest) -> Contact:
    found = current_contact(request)
    assert found is not None
    return found


def _sign_in(request: HttpRequest, contact: Contact) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = contact.pk
    request._portal_contact = contact  # type: ignore[attr-defined]


def _next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return default


# --------------------------------------------------------------------------------------------
# Branding: the colour as a style sheet (strict CSP: no inline style), the logo


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    brand = links.brand()
    colour = brand["colour"]
    etag = '"' + hashlib.sha256(colour.encode()).hexdigest()[:16] + '"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    body = f":root {{ --brand: {colour}; }}\n"
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def logo(request: HttpRequest, digest: str) -> HttpResponse:
    row = PortalSettings.objects.filter(pk=1, logo_sha256=digest).exclude(logo_sha256="").first()
    if row is None:
        raise Http404
    response = HttpResponse(bytes(row.logo), content_type=row.logo_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------
# Home, language


@portal_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    popular = popular_articles(language=translation.get_language() or "en")
    return render(request, "portal/home.html", {"contact": current_contact(request), "popular": popular})


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("language", "")
    response = redirect(_next(request, reverse("portal:home")))
    if code not in services.LANGUAGES:
        return response
    contact = current_contact(request)
    if contact is not None:
        services.contact_language_set(contact=contact, language=code)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


# --------------------------------------------------------------------------------------------
# Signing in and out


@portal_page
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """The e-mail form: always the same answer, after about the same time."""
    form = EmailForm(request.POST or None)
    pw_form = PasswordSignInForm()
    if request.method == "POST" and form.is_valid():
        started = time.monotonic()
        services.signin_link_request(
            email=form.cleaned_data["email"], address=client_address(request), now=clock.now()
        )
        time.sleep(max(0.0, SIGN_IN_ANSWER_SECONDS - (time.monotonic() - started)))
        return render(request, "portal/sign_in_sent.html", {"email": form.cleaned_data["email"]})
    return render(
        request,
        "portal/sign_in.html",
        {"form": form, "pw_form": pw_form, "next": _next(request, "")},
        status=422 if request.method == "POST" else 200,
    )


@portal_page
@never_cache
@require_POST
def sign_in_password(request: HttpRequest) -> HttpResponse:
    form = EmailForm()
    pw_form = PasswordSignInForm(request.POST)
    status = 422
    if pw_form.is_valid():
        try:
            contact = services.password_signin(
                email=pw_form.cleaned_data["email"],
                password=pw_form.cleaned_data["password"],
                address=client_address(request),
                now=clock.now(),
            )
        except services.PortalThrottled:
            pw_form.add_error(None, _("Too many failed sign-ins. Try again in a few minutes."))
            status = 429
        else:
            if contact is not None:
                _sign_in(request, contact)
                return redirect(_next(request, reverse("portal:tickets")))
            pw_form.add_error(None, _("That e-mail address and password do not match."))
    return render(
        request,
        "portal/sign_in.html",
        {"form": form, "pw_form": pw_form, "next": _next(request, "")},
        status=status,
    )


@portal_page
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners fetch links); POST signs in, once."""
    now = clock.now()
    try:
        if request.method == "GET":
            services.signin_link_check(token=token, now=now)
            return render(request, "portal/sign_in_continue.html", {"token": token})
        contact = services.signin_link_use(token=token, now=now)
    except NotFound:
        return render(request, "portal/sign_in_invalid.html", {"form": EmailForm()}, status=410)
    _sign_in(request, contact)
    _activate_language(request, contact)
    return redirect("portal:tickets")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return redirect("portal:home")


@contact_required
@never_cache
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    contact = _contact(request)
    form = PasswordForm(request.POST or None)
    saved = False
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.password_set(
                    contact=contact, password=form.cleaned_data["password"], now=clock.now()
                )
            except ValidationFailed as exc:
                form.add_error("password", exc.message)
            else:
                saved, status, form = True, 200, PasswordForm()
    return render(
        request,
        "portal/account.html",
        {
            "contact": contact,
            "form": form,
            "saved": saved,
            "has_password": services.has_password(contact=contact),
        },
        status=status,
    )


# --------------------------------------------------------------------------------------------
# Submitting a request


def _uploads(request: HttpRequest) -> list[services.Upload]:
    return [
        services.Upload(stream=f, filename=f.name, content_type=f.content_type)
        for f in request.FILES.getlist("attachments")
    ]


@portal_page
@never_cache
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    contact = current_contact(request)
    departments = selectors.portal_departments()
    raw = request.POST.get("department") or request.GET.get("department") or ""
    department = next((d for d in departments if str(d.pk) == raw), None)
    if department is None and request.method == "POST":
        # a department not offered (hidden or gone meanwhile): nothing is sent; choose again
        error = _("This department does not take requests here. Choose another one.")
        return render(
            request, "portal/request_pick.html", {"departments": departments, "error": error}, status=422
        )
    if department is None:
        if len(departments) == 1:
            department = departments[0]
        else:
            return render(request, "portal/request_pick.html", {"departments": departments})
    rows = selectors.customer_layout(department_id=department.pk)
    form = RequestForm(
        request.POST or None, rows=rows, signed_in=contact is not None, initial={"department": department.pk}
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = services.request_submit(
                    contact=contact,
                    email=data.get("email", ""),
                    name=data.get("name", ""),
                    language=translation.get_language() or "en",
                    department_id=department.pk,
                    subject=data["subject"],
                    description=data["description"],
                    custom_fields=form.custom_fields(),
                    uploads=_uploads(request),
                    now=clock.now(),
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                suggest_views.record_submitted(request, contact_id=done.contact.pk, ticket_id=done.ticket.pk)
                if done.hidden:
                    return render(request, "portal/request_sent.html", {"email": done.contact.email})
                if contact is None:
                    _sign_in(request, done.contact)  # a new contact: their own first request
                return redirect("portal:ticket", number=done.ticket.number)
    return render(
        request,
        "portal/request_form.html",
        {
            "form": form,
            "department": department,
            "departments": departments,
            "contact": contact,
            "max_mb": max(1, files.max_bytes() // (1024 * 1024)),
        },
        status=status,
    )


def _form_error(form: Any, exc: DomainError) -> None:
    if isinstance(exc, NotFound):
        raise Http404 from exc
    field = exc.field or ""
    if field.startswith("custom_fields."):
        field = CUSTOM_PREFIX + field.removeprefix("custom_fields.")
    field = {"requester_email": "email", "body": "description"}.get(field, field)
    message = error_message(exc)
    if field in form.fields or field == "attachments":
        if field == "attachments":
            form.attachment_error = message
        else:
            form.add_error(field, message)
    else:
        form.add_error(None, message)


# --------------------------------------------------------------------------------------------
# My requests and one request


@contact_required
@require_GET
def tickets(request: HttpRequest) -> HttpResponse:
    contact = _contact(request)
    designated = selectors.is_designated(contact=contact)
    scope: selectors.Scope = (
        "organization" if designated and request.GET.get("scope") == "organization" else "mine"
    )
    rows = selectors.ticket_rows(contact=contact, scope=scope, designated=designated)
    return render(
        request,
        "portal/tickets.html",
        {
            "contact": contact,
            "designated": designated,
            "scope": scope,
            "rows": [(r, status_label(r.category)) for r in rows],
        },
    )


def _ticket_context(request: HttpRequest, contact: Contact, number: int, **extra: Any) -> dict[str, Any]:
    designated = selectors.is_designated(contact=contact)
    ticket = selectors.ticket_get(contact=contact, number=number, designated=designated)
    messages = list(selectors.conversation(ticket=ticket))
    return {
        "contact": contact,
        "ticket": ticket,
        "status": status_label(ticket.status_category),
        "messages": messages,
        "fields": selectors.customer_readable(ticket=ticket),
        "mine": ticket.requester_id == contact.pk,
        "may_act": selectors.may_act(contact=contact, ticket=ticket, designated=designated),
        "closed": ticket.status_category == StatusCategory.CLOSED,
        "solved": ticket.status_category == StatusCategory.SOLVED,
        "agent_kind": AuthorKind.AGENT,
        "max_mb": max(1, files.max_bytes() // (1024 * 1024)),
        "form": extra.pop("form", None) or ReplyForm(),
        "survey_prompt": portal_prompt(contact_id=contact.pk, ticket_id=ticket.pk, now=clock.now()),
        **extra,
    }


@contact_required
@never_cache
@require_http_methods(["GET", "POST"])
def ticket(request: HttpRequest, number: int) -> HttpResponse:
    contact = _contact(request)
    try:
        if request.method == "GET":
            return render(request, "portal/ticket.html", _ticket_context(request, contact, number))
        designated = selectors.is_designated(contact=contact)
        found = selectors.ticket_get(contact=contact, number=number, designated=designated)
        form = ReplyForm(request.POST)
        if form.is_valid():
            try:
                services.request_reply(
                    contact=contact,
                    ticket=found,
                    body=form.cleaned_data["body"],
                    uploads=_uploads(request),
                    now=clock.now(),
                )
            except (ValidationFailed, Conflict) as exc:
                _form_error(form, exc)
            else:
                return redirect(reverse("portal:ticket", kwargs={"number": number}) + "#latest")
        context = _ticket_context(request, contact, number, form=form)
        return render(request, "portal/ticket.html", context, status=422)
    except NotFound:
        raise Http404 from None


def _status_action(request: HttpRequest, number: int, action: Callable[..., Any]) -> HttpResponse:
    contact = _contact(request)
    try:
        designated = selectors.is_designated(contact=contact)
        found = selectors.ticket_get(contact=contact, number=number, designated=designated)
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = -1
        try:
            action(contact=contact, ticket=found, version=version, now=clock.now())
        except Conflict as exc:
            message = (
                _("This request changed since you opened it. Here it is as it is now.")
                if exc.code == "stale_version"
                else error_message(exc)
            )
            context = _ticket_context(request, contact, number, action_error=message)
            return render(request, "portal/ticket.html", context, status=409)
    except NotFound:
        raise Http404 from None
    return redirect("portal:ticket", number=number)


@contact_required
@require_POST
def ticket_close(request: HttpRequest, number: int) -> HttpResponse:
    return _status_action(request, number, services.request_close)


@contact_required
@require_POST
def ticket_reopen(request: HttpRequest, number: int) -> HttpResponse:
    return _status_action(request, number, services.request_reopen)


@contact_required
@require_GET
def ticket_file(request: HttpRequest, number: int, attachment_id: int) -> HttpResponseBase:
    from django.http import FileResponse

    contact = _contact(request)
    try:
        att = selectors.attachment_get(
            contact=contact,
            number=number,
            attachment_id=attachment_id,
            designated=selectors.is_designated(contact=contact),
        )
        stream = files.attachment_open(attachment=att)
    except NotFound:
        raise Http404 from None
    response = FileResponse(stream, content_type=files.serving_content_type(att.content_type))
    response["Content-Disposition"] = files.content_disposition(att.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
