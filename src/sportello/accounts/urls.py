from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("me/availability/", views.availability, name="availability"),
    path("me/profile/", views.profile, name="profile"),
    path("me/tokens/", views.tokens, name="tokens"),
    path("me/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("me/password/", views.password_change, name="password_change"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("invite/<str:token>/", views.invite_accept, name="invite_accept"),
]
