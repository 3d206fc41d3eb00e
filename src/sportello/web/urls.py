from django.urls import include, path

from . import ticket_page, views
from .ticket_views import composer, properties

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tickets/<int:ticket_id>/", ticket_page.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", composer.ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/uploads/", composer.attachment_upload, name="composer_upload"),
    path("tickets/<int:ticket_id>/canned/<int:canned_id>/", composer.canned_insert, name="composer_canned"),
    path("tickets/<int:ticket_id>/macros/<slug:key>/", composer.macro_preview, name="macro_preview"),
    path("tickets/<int:ticket_id>/macros/<slug:key>/apply/", composer.macro_apply, name="macro_apply"),
    path("tickets/<int:ticket_id>/follow-up/", composer.ticket_followup, name="ticket_followup"),
    path("tickets/<int:ticket_id>/properties/", properties.ticket_properties, name="ticket_properties"),
    path("i18n/", include("django.conf.urls.i18n")),
]
