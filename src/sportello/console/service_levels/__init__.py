"""The Console's service levels: business calendars, SLA policies and tier paths."""

from django.urls import path

from . import calendars

urlpatterns = [
    path("calendars/", calendars.calendar_list, name="calendars"),
    path("calendars/new/", calendars.calendar_new, name="calendar_new"),
    path("calendars/<slug:key>/", calendars.calendar_edit, name="calendar_edit"),
    path("calendars/<slug:key>/holidays/", calendars.calendar_holidays, name="calendar_holidays"),
]
