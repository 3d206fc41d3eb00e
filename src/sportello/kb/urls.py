"""The agents' knowledge-base pages (the Desk): `/kb/`."""

from django.urls import path

from . import views

app_name = "kb"
urlpatterns = [
    path("files/<int:attachment_id>/<str:filename>", views.attachment_file, name="file"),
]
