from django.urls import include, path

from sportello.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("sportello.accounts.urls")),
    path("inbox/", include("sportello.inbox.urls")),
    path("queues/", include("sportello.queues.urls")),
    path("console/", include("sportello.console.urls")),
    path("kb/", include("sportello.kb.urls")),
    path("reports/", include("sportello.reports.urls")),
    path("suggest/", include("sportello.kb.suggest_urls")),
    path("portal/kb/", include("sportello.kb.public_urls")),
    path("portal/survey/", include("sportello.surveys.portal_urls")),
    path("portal/", include("sportello.portal.urls")),
    path("", include("sportello.web.urls")),
]

handler404 = "sportello.core.http.handler404"
handler500 = "sportello.core.http.handler500"
