from django.urls import include, path

from sportello.queues import views as queue_views

from . import new_ticket, search, ticket_page, views
from .ticket_views import attachments, composer, customer, history, live, merge, properties, workflow

app_name = "web"
urlpatterns = [
    path("", queue_views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("search/", search.search, name="search"),
    path("tickets/<int:ticket_id>/", ticket_page.ticket_detail, name="ticket"),
    path("tickets/<int:ticket_id>/reply/", composer.ticket_reply, name="ticket_reply"),
    path("tickets/<int:ticket_id>/uploads/", composer.attachment_upload, name="composer_upload"),
    path("tickets/<int:ticket_id>/canned/", composer.canned_picker, name="composer_canned_list"),
    path("tickets/<int:ticket_id>/macros/", composer.macro_picker, name="composer_macros"),
    path("tickets/<int:ticket_id>/canned/<int:canned_id>/", composer.canned_insert, name="composer_canned"),
    path("tickets/<int:ticket_id>/macros/<slug:key>/", composer.macro_preview, name="macro_preview"),
    path("tickets/<int:ticket_id>/macros/<slug:key>/apply/", composer.macro_apply, name="macro_apply"),
    path("tickets/<int:ticket_id>/follow-up/", composer.ticket_followup, name="ticket_followup"),
    path("tickets/<int:ticket_id>/properties/", properties.ticket_properties, name="ticket_properties"),
    path("tickets/new/", new_ticket.ticket_new, name="ticket_new"),
    path("tickets/new/fields/", new_ticket.ticket_new_fields, name="ticket_new_fields"),
    path("tickets/new/requesters/", new_ticket.requester_suggestions, name="ticket_new_requesters"),
    path("tickets/<int:ticket_id>/live/", live.ticket_live, name="ticket_live"),
    path("tickets/<int:ticket_id>/presence/", live.ticket_presence, name="ticket_presence"),
    path("tickets/<int:ticket_id>/merge/", merge.ticket_merge, name="ticket_merge"),
    path("tickets/<int:ticket_id>/merge/candidates/", merge.merge_candidates, name="ticket_merge_candidates"),
    path("tickets/<int:ticket_id>/merge/preview/", merge.merge_preview, name="ticket_merge_preview"),
    path(
        "tickets/<int:ticket_id>/messages/<int:message_id>/split/", merge.message_split, name="ticket_split"
    ),
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
    path(
        "tickets/<int:ticket_id>/properties/form/", properties.properties_form, name="ticket_properties_form"
    ),
    path("tickets/<int:ticket_id>/history/", history.ticket_history, name="ticket_history"),
    path("tickets/<int:ticket_id>/contact/", customer.ticket_contact, name="ticket_contact"),
    path("attachments/<int:attachment_id>/", attachments.attachment_download, name="attachment"),
    path("i18n/", include("django.conf.urls.i18n")),
]
