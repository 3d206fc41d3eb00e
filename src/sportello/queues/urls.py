from django.urls import path

from . import views

app_name = "queues"
urlpatterns = [
    path("counts/", views.counts, name="counts"),
    path("views/", views.view_create, name="view_create"),
    path("views/<int:view_id>/rename/", views.view_rename, name="view_rename"),
    path("views/<int:view_id>/columns/", views.view_columns, name="view_columns"),
    path("views/<int:view_id>/delete/", views.view_delete, name="view_delete"),
    path("bulk/", views.bulk, name="bulk"),
    path("bulk/panel/", views.bulk_panel, name="bulk_panel"),
]
