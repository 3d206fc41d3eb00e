"""The satisfaction survey's pages for customers: `/portal/survey/`."""

app_name = "surveys"
urlpatterns: list = []
