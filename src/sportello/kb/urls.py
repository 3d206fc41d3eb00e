"""The agents' knowledge-base pages (the Desk): `/kb/`."""

from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("", views.index, name="index"),
    path("articles/new/", views.article_new, name="article_new"),
    path("articles/<int:article_id>/<str:language>/", views.editor, name="editor"),
    path("articles/<int:article_id>/<str:language>/versions/", views.versions, name="versions"),
    path("articles/<int:article_id>/<str:language>/settings/", views.article_settings, name="settings"),
    path("from-ticket/<int:ticket_id>/", views.from_ticket, name="from_ticket"),
    path("ticket/<int:ticket_id>/insert/", views.article_picker, name="picker"),
    path("ticket/<int:ticket_id>/articles/", views.ticket_articles, name="ticket_articles"),
    path("files/<int:attachment_id>/<str:filename>", views.attachment_file, name="file"),
]
