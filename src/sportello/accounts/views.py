"""The agent's own pages: availability (from the top bar's menu), profile, API tokens, password
change, and password reset by e-mail. Each view parses a form, calls one service and renders;
domain errors become inline messages (`web.errors.attach_error`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sportello.core import clock
from sportello.core.errors import DomainError, NotFound
from sportello.core.http import HtmxRequest
from sportello.core.ratelimit import rate_count
from sportello.notifications.context import public_url
from sportello.web.errors import attach_error, client_address, throttled_message
from sportello.web.shell import agent_required

from . import selectors, services, signin
from .forms import AvailabilityForm, PasswordChangeForm, ProfileForm, TokenForm, time_zone_names
from .models import User

# Password-reset requests per hour, per address typed and per client network address. Over
# either, no mail goes out, and the answer is the same as ever (it never tells).
RESET_PER_ACCOUNT_PER_HOUR = 3
RESET_PER_ADDRESS_PER_HOUR = 20
RESET_WINDOW = 3600.0


def _me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Availability


@agent_required
@require_POST
def availability(request: HtmxRequest) -> HttpResponse:
    """Go online, away or offline. HTMX gets the top bar's menu back; a plain form post goes
    back where it came from."""
    form = AvailabilityForm(request.POST)
    if form.is_valid():
        services.agent_set_status(
            user=_me(request), status=form.cleaned_data["status"], now=clock.now(), actor=_me(request)
        )
    if request.htmx:
        # The menu comes back open; its plain-form fallback returns to the page the agent is on.
        context = {"menu_open": True, "me_next": request.htmx.current_url_abs_path or ""}
        return render(request, "web/_topbar_me.html", context, status=200 if form.is_valid() else 422)
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("web:home")
    return redirect(back)


# --------------------------------------------------------------------------------------------
# Profile


def _profile_initial(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "language": user.language,
        "time_zone": user.time_zone,
        "signature": user.signature,
    }


@agent_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    status = 200
    saved = False
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                user = services.agent_profile_update(agent=user, actor=user, **form.cleaned_data)
            except DomainError as exc:
                status = attach_error(form, exc)
            else:
                saved = True
                request.user = user  # the top bar shows the new name at once
                form = ProfileForm(initial=_profile_initial(user))
        else:
            status = 422
    else:
        form = ProfileForm(initial=_profile_initial(user))
    context = {"form": form, "saved": saved, "zones": time_zone_names(), "section": "profile"}
    response = render(request, "accounts/profile.html", context, status=status)
    if saved:
        # The interface follows the new language at once.
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            user.language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


# --------------------------------------------------------------------------------------------
# API tokens


def _tokens_page(request: HttpRequest, form: TokenForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    tokens = list(selectors.token_list(user=_me(request)).order_by("revoked_at", "-created_at", "-id"))
    context = {"form": form, "tokens": tokens, "section": "tokens", **extra}
    return render(request, "accounts/tokens.html", context, status=status)


def own_token_created(request: HttpRequest, page: Callable[..., HttpResponse]) -> HttpResponse:
    """The answer to a token asked for oneself (the agent's tokens page, the Console's): `page`
    (called as `page(request, form, status=…, **extra)`) again with the form's errors, or with
    the new token and its secret, which is in this answer only (never stored, never cached)."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return page(request, form, status=422)
    try:
        token, secret = services.token_create(
            user=_me(request), name=form.cleaned_data["name"], now=clock.now()
        )
    except DomainError as exc:
        return page(request, form, status=attach_error(form, exc))
    response = page(request, TokenForm(), status=201, created=token, secret=secret)
    response["Cache-Control"] = "no-store"
    return response


@agent_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _tokens_page(request, TokenForm())
    return own_token_created(request, _tokens_page)


@agent_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.token_revoke(token_id=token_id, user=_me(request), now=clock.now())
    except NotFound:
        raise Http404 from None
    return _tokens_page(request, TokenForm(), revoked=token)


# --------------------------------------------------------------------------------------------
# Password change


@agent_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Change one's password: the current one is checked like a sign-in (throttled per account
    and address, `accounts.signin`), the new one by the desk's password validators."""
    user = _me(request)
    status, saved = 200, False
    form = PasswordChangeForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        now, address = clock.now(), client_address(request)
        try:
            signin.signin_check(email=user.email, address=address, now=now)
            if user.check_password(form.cleaned_data["old_password"]):
                services.agent_set_password(user=user, password=form.cleaned_data["new_password1"])
                update_session_auth_hash(request, user)  # this session stays signed in
                saved, form = True, PasswordChangeForm(user)
            else:
                until = signin.signin_failed(email=user.email, address=address, now=now)
                if until is not None:
                    raise signin.SignInThrottled(until=until, now=now)
                form.add_error("old_password", _("That is not your current password."))
                status = 422
        except signin.SignInThrottled as exc:
            form.add_error(None, throttled_message(exc.retry_after))
            status = 429
    elif request.method == "POST":
        status = 422
    context = {"form": form, "saved": saved, "section": "password"}
    return render(request, "accounts/password_change.html", context, status=status)


# --------------------------------------------------------------------------------------------
# Password reset by e-mail (Django's views, styled as the login page)


class ResetRequestForm(PasswordResetForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("Email")

    def get_users(self, email: str) -> Iterator[User]:
        """The active agent with this address, with or without a password: an agent invited
        without one (`agents.services.agent_create`) sets their first password through the
        link. Django's own form skips them; a deactivated agent never gets a link."""
        return iter(selectors.agent_for_password_reset(email=email))


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The answer is the same whether or not the address has an account,
    and whether or not a mail went out: past the hourly limits (per address typed and per
    client network address) none does. The link in the mail is on the desk's public address
    (`SPORTELLO["PUBLIC_URL"]`), never on the host the request named."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    form_class = ResetRequestForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        now = clock.now()
        email = str(form.cleaned_data["email"]).strip().lower()
        per_account, _ends = rate_count(key=f"reset:account:{email}", now=now, window=RESET_WINDOW)
        per_address, _ends = rate_count(
            key=f"reset:address:{client_address(self.request)}", now=now, window=RESET_WINDOW
        )
        if per_account > RESET_PER_ACCOUNT_PER_HOUR or per_address > RESET_PER_ADDRESS_PER_HOUR:
            return redirect(self.get_success_url())
        base = public_url()
        parts = urlsplit(base)
        self.extra_email_context = {"public_url": base}
        self.domain_override = parts.netloc
        self.use_https = parts.scheme == "https"
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password through the link. The link of an agent deactivated since it was sent
    is an expired link (Django checks the token, not whether the account may sign in)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


class SetNewPasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = PasswordResetConfirmView.as_view(form_class=SetNewPasswordForm)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


# --------------------------------------------------------------------------------------------
# Accepting an invitation (the link in the invitation mail; public: the agent cannot sign in yet)


class InviteAcceptForm(SetPasswordForm):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the form to choose a password, or why the link no longer works. POST: the password
    chosen (Django's password rules), the account activated, the agent sent to sign in."""
    now = clock.now()
    try:
        agent = services.invite_agent(token=token, now=now)
    except NotFound:
        return render(request, "accounts/invite_accept.html", {"validlink": False}, status=404)
    form = InviteAcceptForm(agent, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.invite_accept(token=token, password=form.cleaned_data["new_password1"], now=now)
            except NotFound:
                return render(request, "accounts/invite_accept.html", {"validlink": False}, status=404)
            except DomainError as exc:
                attach_error(form, exc)
                status = 422
            else:
                return render(request, "accounts/invite_done.html", {"agent": agent})
        else:
            status = 422
    context = {"validlink": True, "form": form, "agent": agent}
    response = render(request, "accounts/invite_accept.html", context, status=status)
    response["Referrer-Policy"] = "same-origin"  # the link's token stays out of other sites' logs
    return response
