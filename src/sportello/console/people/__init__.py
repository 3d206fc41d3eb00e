"""The Console's People group: agents (`agents`), teams (`teams`), contacts and organizations
(`customers`), merging a duplicate contact (`merge`), and their CSV files (`transfer`)."""

from django.urls import path

from . import agents, customers, merge, teams, transfer

urlpatterns = [
    path("people/agents/", agents.agent_list, name="agents"),
    path("people/agents/invite/", agents.agent_invite, name="agent_invite"),
    path("people/agents/<int:agent_id>/", agents.agent_edit, name="agent"),
    path("people/agents/<int:agent_id>/resend/", agents.agent_resend, name="agent_resend"),
    path("people/agents/<int:agent_id>/deactivate/", agents.agent_deactivate, name="agent_deactivate"),
    path("people/agents/<int:agent_id>/reactivate/", agents.agent_reactivate, name="agent_reactivate"),
    path("people/teams/", teams.team_list, name="teams"),
    path("people/teams/new/", teams.team_create, name="team_create"),
    path("people/teams/<int:team_id>/", teams.team_edit, name="team"),
    path("people/contacts/", customers.contact_list, name="contacts"),
    path("people/contacts/new/", customers.contact_create, name="contact_create"),
    path("people/contacts/<int:contact_id>/", customers.contact_edit, name="contact"),
    path("people/contacts/export.csv", transfer.contact_export, name="contacts_export"),
    path("people/contacts/import/", transfer.contact_import, name="contact_import"),
    path("people/contacts/import/<int:import_id>/", transfer.contact_import_show, name="contact_import_show"),
    path(
        "people/contacts/import/<int:import_id>/progress/",
        transfer.contact_import_progress,
        name="contact_import_progress",
    ),
    path(
        "people/contacts/import/<int:import_id>/start/",
        transfer.contact_import_start,
        name="contact_import_start",
    ),
    path(
        "people/contacts/import/<int:import_id>/skipped.csv",
        transfer.contact_import_skipped,
        name="contact_import_skipped",
    ),
    path("people/organizations/export.csv", transfer.organization_export, name="organizations_export"),
    path("people/contacts/<int:contact_id>/merge/", merge.contact_merge_pick, name="contact_merge"),
    path(
        "people/contacts/<int:contact_id>/merge/<int:source_id>/",
        merge.contact_merge_confirm,
        name="contact_merge_confirm",
    ),
    path("people/organizations/", customers.organization_list, name="organizations"),
    path("people/organizations/new/", customers.organization_create, name="organization_create"),
    path("people/organizations/<int:organization_id>/", customers.organization_edit, name="organization"),
    path(
        "people/organizations/<int:organization_id>/designated/",
        customers.organization_designated,
        name="organization_designated",
    ),
]
