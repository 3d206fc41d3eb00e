import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
application = get_wsgi_application()


def _settle() -> None:
    """Load what every process needs for as long as it lives (the URL patterns and the views
    they import, each language's translations), then set it apart from the cyclic garbage
    collector: its full collections otherwise walk every one of these objects again, and showed
    as the slowest requests of the Desk's pages."""
    from django.conf import settings
    from django.urls import get_resolver
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Sportello")
    gc.collect()
    gc.freeze()


_settle()
