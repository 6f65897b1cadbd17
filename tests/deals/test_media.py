"""Deal media: images (several, ordered) and a video, uploaded from the API and the deal form,
checked by content, stored with Django's storage, served under /media/ and shown on the pages."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from tuangou.core.errors import ValidationFailed
from tuangou.deals import services
from tuangou.deals.models import DealMedia

pytestmark = pytest.mark.django_db

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 200


def image(name: str = "a.png", fmt: str = "PNG", size: tuple[int, int] = (8, 6)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def video(name: str = "v.mp4", content: bytes = MP4) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="video/mp4")


def test_api_uploads_images_in_order_and_a_video(api, deal_factory, merchant_admin, django_capture_on_commit_callbacks):
    deal = deal_factory(live=False)
    client = api.as_user(merchant_admin)
    c = Client(headers={"Authorization": f"Bearer {client.token}"})  # multipart, not JSON
    r = c.post(
        f"/api/v1/deals/{deal.pk}/media",
        {"images": [image("one.png"), image("two.jpg", "JPEG")], "video": video()},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert [m["kind"] for m in body] == ["image", "image", "video"]
    assert body[0]["src"].startswith("/media/deals/images/") and body[0]["src"].endswith(".png")
    assert body[1]["src"].endswith(".jpg")
    assert body[2]["src"].endswith(".mp4")
    stored = list(DealMedia.objects.filter(deal=deal).order_by("position", "pk"))
    assert all(default_storage.exists(m.file.name) for m in stored)

    # More images go after the ones already there; reorder puts them as asked.
    r = c.post(f"/api/v1/deals/{deal.pk}/media", {"images": [image("three.webp", "WEBP")]})
    assert r.status_code == 201, r.content
    ids = [m["id"] for m in c.get(f"/api/v1/deals/{deal.pk}?scope=manage").json()["media"] if m["kind"] == "image"]
    assert len(ids) == 3
    r = client.put(f"/api/v1/deals/{deal.pk}/media", {"media_ids": list(reversed(ids))})
    assert r.status_code == 200, r.content
    assert [m["id"] for m in r.json()] == list(reversed(ids))
    deal.refresh_from_db()
    assert deal.cover is not None and deal.cover.pk == ids[-1]

    # A second video replaces the first; its file goes once the transaction commits.
    old_video = DealMedia.objects.get(deal=deal, kind="video")
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(f"/api/v1/deals/{deal.pk}/media", {"video": video("w.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 64)})
    assert r.status_code == 201, r.content
    assert DealMedia.objects.filter(deal=deal, kind="video").count() == 1
    assert not default_storage.exists(old_video.file.name)

    # Removing deletes the row and the file.
    first = DealMedia.objects.get(pk=ids[0])
    with django_capture_on_commit_callbacks(execute=True):
        r = client.delete(f"/api/v1/deals/{deal.pk}/media/{first.pk}")
    assert r.status_code == 204
    assert not DealMedia.objects.filter(pk=first.pk).exists()
    assert not default_storage.exists(first.file.name)


@pytest.mark.parametrize(
    ("files", "field", "code"),
    [
        (
            {"images": [SimpleUploadedFile("x.png", b"<svg onload=alert(1)></svg>", "image/png")]},
            "images.0",
            "file_type",
        ),
        (
            {"images": [image(), SimpleUploadedFile("y.jpg", b"GIF89a but not really", "image/jpeg")]},
            "images.1",
            "file_type",
        ),
        ({"video": SimpleUploadedFile("v.mp4", b"not a video at all, just text", "video/mp4")}, "video", "file_type"),
        ({"video": image("v.png")}, "video", "file_type"),
        ({"images": [SimpleUploadedFile("e.png", b"", "image/png")]}, "images.0", "file_empty"),
    ],
)
def test_api_refuses_bad_files_naming_the_field_and_stores_nothing(
    api, deal_factory, merchant_admin, files, field, code
):
    deal = deal_factory(live=False)
    api.as_user(merchant_admin)
    c = Client(headers={"Authorization": f"Bearer {api.token}"})
    r = c.post(f"/api/v1/deals/{deal.pk}/media", files)
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["code"] == code
    assert field in body["errors"]
    assert not DealMedia.objects.filter(deal=deal).exists()


def test_size_and_count_limits(deal_factory, merchant_admin):
    deal = deal_factory(live=False)
    with override_settings(DEAL_IMAGE_MAX_BYTES=50), pytest.raises(ValidationFailed) as exc:
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image(size=(64, 64))])
    assert exc.value.code == "file_too_large" and "images.0" in exc.value.errors
    with override_settings(DEAL_VIDEO_MAX_BYTES=100), pytest.raises(ValidationFailed) as exc:
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video())
    assert exc.value.code == "file_too_large" and "video" in exc.value.errors
    with override_settings(DEAL_IMAGE_MAX_PIXELS=100), pytest.raises(ValidationFailed) as exc:
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image(size=(20, 20))])
    assert exc.value.code == "image_too_big"
    with override_settings(DEAL_MAX_IMAGES=2):
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image(), image()])
        with pytest.raises(ValidationFailed) as exc:
            services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image()])
    assert exc.value.code == "too_many_images" and "images" in exc.value.errors
    assert DealMedia.objects.filter(deal=deal).count() == 2


def test_only_the_deals_merchant_uploads_and_not_once_closed(api, deal_factory, make_user, merchant_admin):
    from tests.deals.factories import Role, make_merchant
    from tuangou.core.errors import NotFound

    deal = deal_factory(live=False)
    stranger = make_user(Role.MERCHANT)
    make_merchant(admin=stranger)
    api.as_user(stranger)
    c = Client(headers={"Authorization": f"Bearer {api.token}"})
    assert c.post(f"/api/v1/deals/{deal.pk}/media", {"images": [image()]}).status_code == 404
    with pytest.raises(NotFound):
        services.deal_media_upload(actor=stranger, deal_id=deal.pk, images=[image()])
    type(deal).objects.filter(pk=deal.pk).update(status="closed")
    with pytest.raises(ValidationFailed) as exc:
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image()])
    assert exc.value.code == "field_locked"
    assert not DealMedia.objects.filter(deal=deal).exists()


def test_reorder_must_list_every_image_once(deal_factory, merchant_admin):
    deal = deal_factory(live=False)
    a, b = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image(), image()])
    for bad in ([a.pk], [a.pk, a.pk], [a.pk, b.pk, 999999]):
        with pytest.raises(ValidationFailed) as exc:
            services.deal_media_reorder(actor=merchant_admin, deal_id=deal.pk, media_ids=bad)
        assert "media_ids" in exc.value.errors


def test_media_served_under_media_url_and_shown_on_the_pages(client, deal_factory, merchant_admin):
    deal = deal_factory()
    img, vid = services.deal_media_upload(
        actor=merchant_admin, deal_id=deal.pk, images=[image("cover.png")], video=video()
    )
    r = client.get(img.src)
    assert r.status_code == 200
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r["Content-Security-Policy"]
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")
    assert client.get(vid.src)["Content-Type"] == "video/mp4"
    for bad in ("/media/../settings.py", "/media/deals/../../etc/passwd", "/media/.env", "/media/other/x.png"):
        assert client.get(bad).status_code == 404, bad
    assert client.get("/media/deals/images/missing.png").status_code == 404

    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert img.src in page and vid.src in page and 'id="deal-video"' in page
    city = client.get(f"/c/{deal.city.slug}/").content.decode()
    assert img.src in city


def test_deal_form_uploads_images_and_video(client, deal_factory, merchant_admin, merchant):
    import datetime as dt

    from django.utils import timezone

    client.force_login(merchant_admin)
    start = timezone.localtime() + dt.timedelta(hours=1)
    data = {
        "merchant_id": merchant.pk,
        "title": "有圖的團購",
        "original_price": "100",
        "group_price": "59",
        "stock": 10,
        "tipping_point": 2,
        "count_basis": "people",
        "per_member_limit": 2,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "mode": "single",
        "delivery": "voucher",
        "images": [image("a.png"), image("b.gif", "GIF")],
        "video": video(),
    }
    r = client.post("/backoffice/deals/new/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    deal_id = int(r["Location"].rstrip("/").split("/")[-1])
    kinds = list(DealMedia.objects.filter(deal_id=deal_id).values_list("kind", "position"))
    assert kinds == [("image", 0), ("video", 0), ("image", 1)] or sorted(kinds) == [
        ("image", 0),
        ("image", 1),
        ("video", 0),
    ]

    # A bad file on the form: the error is on its field and no draft is left behind.
    before = DealMedia.objects.count()
    from tuangou.deals.models import Deal

    deals_before = Deal.objects.count()
    data["images"] = [SimpleUploadedFile("x.png", b"not an image", "image/png")]
    data["video"] = video()
    r = client.post("/backoffice/deals/new/", data)
    assert r.status_code == 200
    assert 'id="images-errors"' in r.content.decode()
    assert Deal.objects.count() == deals_before and DealMedia.objects.count() == before

    # The deal page: upload more, move, remove.
    r = client.post(f"/backoffice/deals/{deal_id}/", {"form": "media", "images": [image("c.webp", "WEBP")]})
    assert r.status_code == 302
    images = list(DealMedia.objects.filter(deal_id=deal_id, kind="image").order_by("position"))
    assert len(images) == 3
    r = client.post(f"/backoffice/deals/{deal_id}/media/{images[2].pk}/up/")
    assert r.status_code == 302
    order = list(
        DealMedia.objects.filter(deal_id=deal_id, kind="image").order_by("position").values_list("pk", flat=True)
    )
    assert order == [images[0].pk, images[2].pk, images[1].pk]
    r = client.post(f"/backoffice/deals/{deal_id}/media/{images[0].pk}/remove/")
    assert r.status_code == 302
    assert DealMedia.objects.filter(deal_id=deal_id, kind="image").count() == 2
    r = client.post(f"/backoffice/deals/{deal_id}/", {"form": "media", "video": image("v.png")})
    assert r.status_code == 200 and 'id="video-errors"' in r.content.decode()
    page = client.get(f"/backoffice/deals/{deal_id}/").content.decode()
    assert 'id="media-upload"' in page


def test_media_answers_byte_ranges_for_video_players(client, deal_factory, merchant_admin, monkeypatch):
    deal = deal_factory()
    content = MP4 + bytes(range(256)) * 4
    (vid,) = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video(content=content))
    size = len(content)
    r = client.get(vid.src, headers={"Range": "bytes=0-1"})
    assert r.status_code == 206 and r.content == content[:2]
    assert r["Content-Range"] == f"bytes 0-1/{size}" and r["Accept-Ranges"] == "bytes"
    r = client.get(vid.src, headers={"Range": "bytes=100-"})
    assert r.status_code == 206 and r.content == content[100:]
    r = client.get(vid.src, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == content[-10:]
    r = client.get(vid.src, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r["Content-Range"] == f"bytes */{size}"
    monkeypatch.setattr("tuangou.web.views.media.MAX_RANGE", 16)  # a long range is answered in part
    r = client.get(vid.src, headers={"Range": "bytes=0-"})
    assert r.status_code == 206 and r.content == content[:16] and r["Content-Range"] == f"bytes 0-15/{size}"
    assert client.post(vid.src).status_code == 405


def test_openapi_describes_the_media_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    upload = paths["/api/v1/deals/{deal_id}/media"]
    assert "multipart/form-data" in upload["post"]["requestBody"]["content"]
    assert "put" in upload and "delete" in paths["/api/v1/deals/{deal_id}/media/{media_id}"]
    assert "/api/v1/merchant/orders" in paths and "/api/v1/reports/teams" in paths
