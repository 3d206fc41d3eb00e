from django.urls import path

from . import views

app_name = "inbox"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.bell, name="bell"),
    path("bell/panel/", views.bell_panel, name="panel"),
    path("<int:notification_id>/open/", views.notification_open, name="open"),
    path("read-all/", views.notification_read_all, name="read_all"),
    path("mentions/<int:ticket_id>/", views.mention_agents, name="mentions"),
]
