"""The customers' pages: `/portal/`."""

app_name = "portal"
urlpatterns: list = []
