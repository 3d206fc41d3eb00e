"""The Console: where admins configure the desk, in the browser. Admins only: an agent or a light
agent gets the 403 page, someone signed out the login page. Each view parses, calls one service
or selector and renders; the sections it offers are registered in `sections`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods

from sportello.accounts import selectors, services
from sportello.accounts.forms import TokenForm
from sportello.accounts.models import Role, User
from sportello.accounts.selectors import TokenStatus
from sportello.accounts.views import own_token_created
from sportello.core import clock, paging
from sportello.core.errors import NotFound, ValidationFailed
from sportello.web.shell import agent_required

from . import sections

PAGE_SIZE = 50
TOKEN_KEYS = [
    paging.SortKey("created_at", descending=True, kind="datetime"),
    paging.SortKey("id", descending=True),
]


def admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in admins only (`agent_required` first: the login page, the agent's time zone)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not (isinstance(user, User) and user.role == Role.ADMIN and user.is_active):
            raise HttpForbidden
        return view(request, *args, **kwargs)

    return agent_required(wrapper)


def current_admin(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def render_console(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    return render(request, template, {"console_groups": sections.grouped(), **context}, status=status)


@admin_required
@require_http_methods(["GET"])
def overview(request: HttpRequest) -> HttpResponse:
    return render_console(request, "console/overview.html", {"section": "overview"})


# --------------------------------------------------------------------------------------------
# API tokens


def int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _tokens_page(request: HttpRequest, form: TokenForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    """The list of every agent's tokens, filtered by the address: `status` (active, the default;
    revoked; all), `owner` (an agent's id), newest first, PAGE_SIZE a page after `cursor`."""
    me = current_admin(request)
    try:
        shown = TokenStatus(request.GET.get("status") or TokenStatus.ACTIVE)
    except ValueError:
        shown = TokenStatus.ACTIVE
    owner_id = int_or_none(request.GET.get("owner"))
    cursor = request.GET.get("cursor") or None
    qs = selectors.token_list_all(actor=me, status=shown, owner_id=owner_id)
    try:
        rows, next_cursor = paging.paginate(qs, keys=TOKEN_KEYS, cursor=cursor, limit=PAGE_SIZE)
    except ValidationFailed:
        raise BadRequest("invalid cursor") from None
    base = {k: v for k, v in (("status", shown.value), ("owner", owner_id)) if v is not None}
    here = reverse("console:tokens")
    context = {
        "section": "tokens",
        "now": clock.now(),  # dates are shown as ages, the exact instant on hover
        "form": form,
        "tokens": rows,
        "owners": list(selectors.token_owners(actor=me)),
        "shown": shown.value,
        "owner_id": owner_id,
        "statuses": [
            (TokenStatus.ACTIVE.value, pgettext("tokens", "Active")),
            (TokenStatus.REVOKED.value, pgettext("tokens", "Revoked")),
            (TokenStatus.ALL.value, pgettext("tokens", "All")),
        ],
        "list_url": f"{here}?{urlencode({**base, **({'cursor': cursor} if cursor else {})})}",
        "next_url": f"{here}?{urlencode({**base, 'cursor': next_cursor})}" if next_cursor else None,
        "first_url": f"{here}?{urlencode(base)}" if cursor else None,
        **extra,
    }
    return render_console(request, "console/tokens.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """GET: the list. POST: a token for the admin themself; its secret is in this answer only."""
    if request.method != "POST":
        return _tokens_page(request, TokenForm())
    return own_token_created(request, _tokens_page)


def _list_back(request: HttpRequest) -> str:
    """The tokens list to return to: one of the Console's own token lists, else the default."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    home = reverse("console:tokens")
    return back if back.startswith(home) and "//" not in back and "\\" not in back else home


@admin_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET: what revoking this token means, to confirm. POST: revoke it (a token revoked already
    stays as it was), then back to the list with a message."""
    back = _list_back(request)
    if request.method != "POST":
        try:
            token = selectors.token_get_any(actor=current_admin(request), token_id=token_id)
        except NotFound:
            raise Http404 from None
        context = {"section": "tokens", "token": token, "back": back}
        return render_console(request, "console/token_revoke.html", context)
    try:
        token = services.token_revoke_any(token_id=token_id, actor=current_admin(request), now=clock.now())
    except NotFound:
        raise Http404 from None
    messages.success(
        request,
        _("Token “%(name)s” of %(owner)s revoked: it no longer works.")
        % {"name": token.name or token.prefix, "owner": token.user.name or token.user.email},
    )
    return redirect(back)
