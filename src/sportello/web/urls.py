from django.urls import include, path

from . import ticket_page, views
from .ticket_views import attachments, composer, customer, history, properties

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tickets/<int:ticket_id>/", ticket_page.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", composer.ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/properties/", properties.ticket_properties, name="ticket_properties"),
    path(
        "tickets/<int:ticket_id>/properties/form/", properties.properties_form, name="ticket_properties_form"
    ),
    path("tickets/<int:ticket_id>/history/", history.ticket_history, name="ticket_history"),
    path("tickets/<int:ticket_id>/contact/", customer.ticket_contact, name="ticket_contact"),
    path("attachments/<int:attachment_id>/", attachments.attachment_download, name="attachment"),
    path("i18n/", include("django.conf.urls.i18n")),
]
