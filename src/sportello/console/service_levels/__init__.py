"""The Console's service levels: business calendars, SLA policies and tier paths."""

from django.urls import path

from . import calendars, policies, tiers

urlpatterns = [
    path("calendars/", calendars.calendar_list, name="calendars"),
    path("calendars/new/", calendars.calendar_new, name="calendar_new"),
    path("calendars/<slug:key>/", calendars.calendar_edit, name="calendar_edit"),
    path("calendars/<slug:key>/holidays/", calendars.calendar_holidays, name="calendar_holidays"),
    path("sla-policies/", policies.policy_list, name="sla_policies"),
    path("sla-policies/new/", policies.policy_new, name="sla_policy_new"),
    path("sla-policies/<slug:key>/", policies.policy_edit, name="sla_policy_edit"),
    path("tier-paths/", tiers.tier_path_list, name="tier_paths"),
    path("tier-paths/new/", tiers.tier_path_new, name="tier_path_new"),
    path("tier-paths/<slug:key>/", tiers.tier_path_edit, name="tier_path_edit"),
]
