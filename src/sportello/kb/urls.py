"""The agents' knowledge-base pages (the Desk): `/kb/`."""

app_name = "kb"
urlpatterns: list = []
