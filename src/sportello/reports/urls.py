from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<slug:table>.csv", views.dashboard_csv, name="dashboard_csv"),
    path("tickets/", views.tickets, name="tickets"),
    path("scheduled/", views.subscription_list, name="subscriptions"),
    path("scheduled/new/", views.subscribe, name="subscribe"),
    path("scheduled/<int:pk>/", views.subscription_edit, name="subscription_edit"),
    path("scheduled/<int:pk>/pause/", views.subscription_pause, name="subscription_pause"),
    path("scheduled/<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
    path("scheduled/<int:pk>/send/", views.subscription_send, name="subscription_send"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
