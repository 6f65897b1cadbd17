"""The WSGI entry (gunicorn, waitress) loads the views and freezes what it loaded (ADR 0019)."""

import os
import subprocess
import sys

CODE = (
    "import gc, sys; from tuangou.config.wsgi import application; "
    "print(gc.get_freeze_count(), 'tuangou.web.views.storefront' in sys.modules)"
)


def test_the_wsgi_entry_loads_the_views_and_freezes_them_out_of_the_collector():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "tuangou.config.settings.test"
    result = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    frozen, views_loaded = result.stdout.split()
    assert views_loaded == "True"
    assert int(frozen) > 100_000
