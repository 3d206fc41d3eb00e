from django.urls import path

from . import blueprint_views, export_views, process_views, views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # Fixed names first: `<table>.csv` below would take them.
    path("blueprints/", blueprint_views.blueprints, name="blueprints"),
    path("blueprints.csv", blueprint_views.blueprints_csv, name="blueprints_csv"),
    path("blueprints/<slug:key>/", blueprint_views.blueprint, name="blueprint"),
    path("blueprints/<slug:key>/<slug:table>.csv", blueprint_views.blueprint_csv, name="blueprint_csv"),
    path("export/", export_views.export_page, name="export"),
    path("<slug:table>.csv", views.dashboard_csv, name="dashboard_csv"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/view/", views.tickets_view, name="tickets_view"),
    path("process/", process_views.process, name="process"),
    path("process/export.csv", process_views.process_export_csv, name="process_csv"),
    path("process/export.xes", process_views.process_export_xes, name="process_xes"),
    path("scheduled/", views.subscription_list, name="subscriptions"),
    path("scheduled/new/", views.subscribe, name="subscribe"),
    path("scheduled/<int:pk>/", views.subscription_edit, name="subscription_edit"),
    path("scheduled/<int:pk>/pause/", views.subscription_pause, name="subscription_pause"),
    path("scheduled/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("scheduled/<int:pk>/send/", views.subscription_send, name="subscription_send"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
