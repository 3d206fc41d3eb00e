from django.urls import include, path

from sportello.queues import views as queue_views

from . import ticket_page, views
from .ticket_views import composer, properties

app_name = "web"
urlpatterns = [
    path("", queue_views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tickets/<int:ticket_id>/", ticket_page.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", composer.ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/properties/", properties.ticket_properties, name="ticket_properties"),
    path("i18n/", include("django.conf.urls.i18n")),
]
