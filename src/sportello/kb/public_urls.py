"""The public knowledge base in the customer portal: `/portal/kb/`."""

from django.urls import path

from . import public_views as views

app_name = "kb_public"
urlpatterns = [
    path("", views.kb_root, name="root"),
    path("files/<path:storage_key>/<str:filename>", views.kb_file, name="file"),
    path("<str:lang>/", views.kb_home, name="home"),
    path("<str:lang>/search/", views.kb_search, name="search"),
    path("<str:lang>/c/<slug:category>/", views.kb_category, name="category"),
    path("<str:lang>/c/<slug:category>/<slug:section>/", views.kb_section, name="section"),
    path("<str:lang>/a/<int:article_id>/", views.kb_article, name="article_bare"),
    path("<str:lang>/a/<int:article_id>/vote/", views.kb_vote, name="vote"),
    path("<str:lang>/a/<int:article_id>-<str:slug>/", views.kb_article, name="article"),
]
