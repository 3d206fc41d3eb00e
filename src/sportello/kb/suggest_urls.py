"""Answer suggestions as HTMX fragments: `/suggest/` (the portal's request form, the ticket page)."""

from django.urls import path

from . import suggest_views

app_name = "kb_suggest"
urlpatterns = [
    path("portal/", suggest_views.portal_suggestions, name="portal"),
    path("solved/", suggest_views.portal_solved, name="solved"),
    path("ticket/<int:ticket_id>/", suggest_views.ticket_suggestions, name="ticket"),
]
