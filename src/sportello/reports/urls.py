from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<slug:table>.csv", views.dashboard_csv, name="dashboard_csv"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/view/", views.tickets_view, name="tickets_view"),
]
