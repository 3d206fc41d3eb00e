"""The satisfaction survey's pages for customers: `/portal/survey/` (`surveys.views`)."""

from django.urls import path

from . import views

app_name = "surveys"
urlpatterns = [
    path("ticket/<int:number>/", views.survey_of_ticket, name="ticket"),
    path("<str:token>/", views.survey_page, name="page"),
    path("<str:token>/rate/<int:value>/", views.survey_rate, name="rate"),
]
