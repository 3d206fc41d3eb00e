"""Answer suggestions as HTMX fragments: `/suggest/` (the portal's request form, the ticket page)."""

app_name = "kb_suggest"
urlpatterns: list = []
