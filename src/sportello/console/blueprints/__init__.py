"""The Console's blueprints section: the list, the editor with its live flowchart, the
dashboard (`views`); the editor's form as a draft of a definition (`draft`)."""

from django.urls import path

from . import views

urlpatterns = [
    path("blueprints/", views.blueprint_list, name="blueprints"),
    path("blueprints/new/", views.blueprint_new, name="blueprint_new"),
    path("blueprints/preview/", views.blueprint_preview, name="blueprint_preview"),
    path("blueprints/<slug:key>/edit/", views.blueprint_edit, name="blueprint_edit"),
    path("blueprints/<slug:key>/dashboard/", views.blueprint_dashboard, name="blueprint_dashboard"),
]
