"""The request an API operation behind the bearer token sees, typed: `auth` is the token's user.

Operations annotate their `request` parameter with `ApiRequest`; ninja reads no annotation of
that parameter (the OpenAPI document and the parsing of the operation's inputs stay the same).
"""

from __future__ import annotations

from django.http import HttpRequest

from .models import User


class ApiRequest(HttpRequest):
    """A request that passed the API's bearer-token check (`sportello.api.BearerToken`): ninja
    set `auth` to the active agent the token belongs to. An operation declared with `auth=None`
    (the health check) is not given one and must not read it."""

    auth: User
