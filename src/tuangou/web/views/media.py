"""Uploaded media (deal images and videos) served by the site itself, for the embedded mode.

`config/urls.py` mounts this under MEDIA_URL when `SERVE_MEDIA` is on (the default in the
embedded mode, where DEBUG is off and no reverse proxy is in front). It reads only through the
default storage, so nothing outside MEDIA_ROOT can be named (FileSystemStorage joins paths
safely; names with ``..``, absolute or hidden parts are refused before that). Responses forbid
sniffing and scripts, so even a file that slipped past the upload checks cannot run as a page.
When scaled, the reverse proxy (or an object store) serves MEDIA_ROOT and this is off.
"""

from __future__ import annotations

import mimetypes

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

ALLOWED_PREFIXES = ("deals/",)


def _clean(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise Http404
    name = "/".join(parts)
    if not name.startswith(ALLOWED_PREFIXES):
        raise Http404
    return name


@require_safe
def media_file(request: HttpRequest, path: str) -> FileResponse:
    name = _clean(path)
    try:
        if not default_storage.exists(name):
            raise Http404
        handle = default_storage.open(name, "rb")
    except (SuspiciousFileOperation, OSError) as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"  # stored names are random and never reused
    return response
