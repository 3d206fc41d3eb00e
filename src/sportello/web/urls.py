from django.urls import include, path

from . import ticket_page, views
from .ticket_views import composer, properties, workflow

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tickets/<int:ticket_id>/", ticket_page.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", composer.ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/properties/", properties.ticket_properties, name="ticket_properties"),
    path("tickets/<int:ticket_id>/blueprint.svg", workflow.ticket_flowchart, name="ticket_flowchart"),
    path(
        "tickets/<int:ticket_id>/blueprint/<slug:transition_key>/",
        workflow.ticket_transition,
        name="ticket_transition",
    ),
    path("tickets/<int:ticket_id>/tasks/", workflow.ticket_task_create, name="ticket_task_create"),
    path(
        "tickets/<int:ticket_id>/tasks/<int:task_id>/complete/",
        workflow.ticket_task_complete,
        name="ticket_task_complete",
    ),
    path(
        "tickets/<int:ticket_id>/tasks/<int:task_id>/reopen/",
        workflow.ticket_task_reopen,
        name="ticket_task_reopen",
    ),
    path("tickets/<int:ticket_id>/escalate/", workflow.ticket_escalate, name="ticket_escalate"),
    path("i18n/", include("django.conf.urls.i18n")),
]
