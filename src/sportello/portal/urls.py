"""The customers' pages: `/portal/`."""

from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("brand.css", views.brand_css, name="brand_css"),
    path("logo/<str:digest>/", views.logo, name="logo"),
    path("language/", views.language, name="language"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/password/", views.sign_in_password, name="sign_in_password"),
    path("sign-in/<str:token>/", views.sign_in_link, name="sign_in_link"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("account/", views.account, name="account"),
    path("requests/new/", views.request_new, name="request_new"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/<int:number>/", views.ticket, name="ticket"),
    path("tickets/<int:number>/close/", views.ticket_close, name="ticket_close"),
    path("tickets/<int:number>/reopen/", views.ticket_reopen, name="ticket_reopen"),
    path("tickets/<int:number>/files/<int:attachment_id>/", views.ticket_file, name="ticket_file"),
]
