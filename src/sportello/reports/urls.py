from django.urls import path

from . import blueprint_views, export_views, views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("blueprints/", blueprint_views.blueprints, name="blueprints"),
    path("blueprints.csv", blueprint_views.blueprints_csv, name="blueprints_csv"),
    path("blueprints/<slug:key>/", blueprint_views.blueprint, name="blueprint"),
    path("blueprints/<slug:key>/<slug:table>.csv", blueprint_views.blueprint_csv, name="blueprint_csv"),
    path("export/", export_views.export_page, name="export"),
]
