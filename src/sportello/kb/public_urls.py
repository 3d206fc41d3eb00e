"""The public knowledge base in the customer portal: `/portal/kb/`."""

app_name = "kb_public"
urlpatterns: list = []
