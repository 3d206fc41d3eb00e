"""The agents' knowledge-base pages (the Desk): `/kb/`."""

from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("", views.index, name="index"),
    path("articles/new/", views.article_new, name="article_new"),
    path("articles/<int:article_id>/<str:language>/", views.editor, name="editor"),
    path("articles/<int:article_id>/<str:language>/versions/", views.versions, name="versions"),
    path("from-ticket/<int:ticket_id>/", views.from_ticket, name="from_ticket"),
    path("files/<int:attachment_id>/<str:filename>", views.attachment_file, name="file"),
]
