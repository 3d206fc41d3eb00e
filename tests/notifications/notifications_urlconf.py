"""The notifications router served in front of the real API, for these tests only, while
`sportello.api` does not mount it yet (see conftest.py): same authentication, same error
mapping, every other path falls through to the project's URLs."""

from __future__ import annotations

from django.urls import path
from ninja import NinjaAPI

from sportello import urls as project_urls
from sportello.api import BearerToken
from sportello.api import api as project_api
from sportello.notifications.api import router

api = NinjaAPI(auth=BearerToken(), urls_namespace="notifications-test")
for exc_class, handler in project_api._exception_handlers.items():
    api.add_exception_handler(exc_class, handler)
api.add_router("", router)

urlpatterns = [path("api/v1/", api.urls), *project_urls.urlpatterns]
handler404 = project_urls.handler404
handler500 = project_urls.handler500
