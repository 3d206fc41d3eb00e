"""The agent UI: the queue, the ticket page and its two forms. Server-rendered; HTMX requests
get the template partial they need. Views parse input, fetch with an access check, call one
service and present the result; domain errors become inline messages (`web.errors`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy

from sportello.accounts import signin
from sportello.core import clock

from .errors import client_address, throttled_message
from .forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        """The form has parsed the credentials; they are checked here, throttled per account and
        per client address (`accounts.signin`). Signing in switches the interface to the agent's
        own language, unless they already picked one in this browser."""
        try:
            user = signin.signin_authenticate(
                request=self.request,
                email=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                address=client_address(self.request),
                now=clock.now(),
            )
        except signin.SignInThrottled as exc:
            form.add_error(None, throttled_message(exc.retry_after))
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(exc.retry_after)
            return response
        if user is None:
            form.add_error(None, form.error_messages["invalid_login"])
            return self.form_invalid(form)
        form.user_cache = user
        response = super().form_valid(form)
        language = form.get_user().language
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES and language in dict(settings.LANGUAGES):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                secure=self.request.is_secure(),
            )
        return response


login_view = LoginView.as_view()
logout_view = auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login"))
