import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuangou.config.settings.local")
application = get_wsgi_application()

# Load every view now rather than on the first request, then move what is loaded (modules,
# classes, URL patterns: about 140,000 objects in a worker) out of the garbage collector's reach: they
# live as long as the process, and each older-generation collection would walk them again (docs/adr/0019).
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
gc.collect()
gc.freeze()
