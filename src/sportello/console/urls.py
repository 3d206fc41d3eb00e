from django.urls import path

from . import (
    assignment,
    blueprints,
    canned,
    channels,
    config_page,
    desk_setup,
    history,
    macros,
    mailboxes,
    notification_templates,
    people,
    portal,
    rules,
    service_levels,
    statuses,
    views,
    webhooks,
)

app_name = "console"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    *config_page.urlpatterns,
    *rules.urlpatterns,
    *history.urlpatterns,
    *service_levels.urlpatterns,
    *channels.urlpatterns,
    *mailboxes.urlpatterns,
    *notification_templates.urlpatterns,
    *webhooks.urlpatterns,
    *people.urlpatterns,
    *assignment.urlpatterns,
    *macros.urlpatterns,
    *canned.urlpatterns,
    *desk_setup.urlpatterns,
    *statuses.urlpatterns,
    *blueprints.urlpatterns,
    *portal.urlpatterns,
]
