from django.urls import path

from . import blueprints, views

app_name = "console"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    *blueprints.urlpatterns,
]
