"""What a deal's uploaded media may be: checked by content, never by the name or the declared type.

Images are opened with Pillow (JPEG, PNG, WebP, GIF; SVG is refused, it can carry scripts);
videos are recognised by their container's signature (MP4/MOV `ftyp` box, WebM/Matroska EBML
header). The stored name is ours (a random name with the extension of what was found), so a
file called ``photo.jpg.html`` cannot become an HTML page on the media host.

Limits are settings with defaults: `DEAL_IMAGE_MAX_BYTES` (5 MB), `DEAL_VIDEO_MAX_BYTES` (50 MB),
`DEAL_MAX_IMAGES` (10), `DEAL_IMAGE_MAX_PIXELS` (40 megapixels, against decompression bombs).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

from tuangou.core.errors import ValidationFailed

IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MP4_BRANDS = (b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"qt  ", b"dash", b"3gp4", b"3gp5")


def image_max_bytes() -> int:
    return int(getattr(settings, "DEAL_IMAGE_MAX_BYTES", 5 * 1024 * 1024))


def video_max_bytes() -> int:
    return int(getattr(settings, "DEAL_VIDEO_MAX_BYTES", 50 * 1024 * 1024))


def max_images() -> int:
    return int(getattr(settings, "DEAL_MAX_IMAGES", 10))


def image_max_pixels() -> int:
    return int(getattr(settings, "DEAL_IMAGE_MAX_PIXELS", 40_000_000))


@dataclass(frozen=True)
class Inspected:
    kind: str  # "image" or "video"
    extension: str
    content_type: str
    width: int | None = None
    height: int | None = None

    def storage_name(self) -> str:
        return f"deals/{self.kind}s/{secrets.token_hex(12)}.{self.extension}"


def _size(file: Any) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
        file.seek(0)
    return int(size)


def _video_type(head: bytes) -> tuple[str, str] | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov", "video/quicktime"
        if brand in MP4_BRANDS or brand.startswith(b"mp4") or brand.startswith(b"iso"):
            return "mp4", "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm", "video/webm"
    return None


def inspect(file: IO[bytes] | Any, *, field: str, kind: str | None = None) -> Inspected:
    """Tell what `file` is by its content and check it against the limits; ValidationFailed on `field`.

    `kind` ("image" or "video") restricts what is accepted; None accepts either.
    """
    if file is None:
        raise ValidationFailed.field(field, _("Choose a file to upload."), code="file_required")
    size = _size(file)
    if size == 0:
        raise ValidationFailed.field(field, _("The file is empty."), code="file_empty")
    file.seek(0)
    head = file.read(64)
    file.seek(0)

    video = _video_type(head)
    if video is not None and kind != "image":
        if size > video_max_bytes():
            raise ValidationFailed.field(
                field,
                _("A video can be at most %(mb)d MB.") % {"mb": video_max_bytes() // (1024 * 1024)},
                code="file_too_large",
            )
        return Inspected("video", video[0], video[1])

    if kind != "video":
        from PIL import Image, UnidentifiedImageError

        if size > image_max_bytes():
            raise ValidationFailed.field(
                field,
                _("An image can be at most %(mb)d MB.") % {"mb": image_max_bytes() // (1024 * 1024)},
                code="file_too_large",
            )
        try:
            with Image.open(file) as img:
                fmt = img.format or ""
                width, height = img.size
                if fmt in IMAGE_FORMATS and width * height <= image_max_pixels():
                    img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            fmt, width, height = "", 0, 0
        finally:
            file.seek(0)
        if fmt in IMAGE_FORMATS:
            if width * height > image_max_pixels():
                raise ValidationFailed.field(
                    field,
                    _("The image has too many pixels (at most %(mp)d megapixels).")
                    % {"mp": image_max_pixels() // 1_000_000},
                    code="image_too_big",
                )
            ext = IMAGE_FORMATS[fmt]
            return Inspected("image", ext, f"image/{'jpeg' if ext == 'jpg' else ext}", width, height)

    if kind == "image":
        message = _("Upload a JPEG, PNG, WebP or GIF image.")
    elif kind == "video":
        message = _("Upload an MP4 or WebM video.")
    else:
        message = _("Upload a JPEG, PNG, WebP or GIF image, or an MP4 or WebM video.")
    raise ValidationFailed.field(field, message, code="file_type")
