"""Uploaded media (deal images and videos) served by the site itself, for the embedded mode.

`config/urls.py` mounts this under MEDIA_URL when `SERVE_MEDIA` is on (the default in the
embedded mode, where DEBUG is off and no reverse proxy is in front). It reads only through the
default storage, so nothing outside MEDIA_ROOT can be named (FileSystemStorage joins paths
safely; names with ``..``, absolute or hidden parts are refused before that). Responses forbid
sniffing and scripts, so even a file that slipped past the upload checks cannot run as a page.
Single byte ranges are answered (206), as phones' video players need. When scaled, the reverse
proxy (or an object store) serves MEDIA_ROOT and this is off.
"""

from __future__ import annotations

import mimetypes
import re
from typing import TypeVar

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

ALLOWED_PREFIXES = ("deals/",)
MAX_RANGE = 2 * 1024 * 1024  # a longer range is answered in part; players ask for the rest
R = TypeVar("R", bound=HttpResponseBase)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _clean(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise Http404
    name = "/".join(parts)
    if not name.startswith(ALLOWED_PREFIXES):
        raise Http404
    return name


def _headers(response: R, content_type: str) -> R:
    response["Content-Type"] = content_type
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"  # stored names are random and never reused
    return response


@require_safe
def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """The file, or one byte range of it (phones' video players, Safari's above all, ask for ranges)."""
    name = _clean(path)
    try:
        if not default_storage.exists(name):
            raise Http404
        size = default_storage.size(name)
        handle = default_storage.open(name, "rb")
    except (SuspiciousFileOperation, OSError) as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    match = RANGE.match(request.headers.get("Range", "").strip())
    if match and (match[1] or match[2]):
        if match[1]:
            start, end = int(match[1]), int(match[2]) if match[2] else size - 1
        else:  # the last N bytes
            start, end = max(0, size - int(match[2])), size - 1
        end = min(end, size - 1, start + MAX_RANGE - 1)
        if start > end or start >= size:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _headers(response, content_type)
        with handle:
            handle.seek(start)
            chunk = handle.read(end - start + 1)
        response = HttpResponse(chunk, status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        return _headers(response, content_type)
    return _headers(FileResponse(handle), content_type)
