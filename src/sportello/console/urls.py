from django.urls import path

from . import config_page, history, rules, service_levels, views

app_name = "console"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    *config_page.urlpatterns,
    *rules.urlpatterns,
    *history.urlpatterns,
    *service_levels.urlpatterns,
]
