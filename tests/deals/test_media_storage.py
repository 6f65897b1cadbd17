"""Deal media: storage matches the database. Files stored by an upload whose transaction does not
commit are deleted; a removed or replaced file is deleted only after the removal commits, and not
at all when it rolls back (ADR 0009, addendum). These tests commit for real (transaction=True)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from tests.deals.test_media import image, video
from tuangou.accounts.roles import Role
from tuangou.core.ownership import roles_of
from tuangou.deals import services
from tuangou.deals.models import DealMedia

pytestmark = pytest.mark.django_db(transaction=True)

WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 64


class CallerRolledBack(Exception):
    pass


def stored() -> set[str]:
    names: set[str] = set()
    for folder in ("deals/images", "deals/videos"):
        if default_storage.exists(folder):
            names.update(f"{folder}/{f}" for f in default_storage.listdir(folder)[1])
    return names


def test_an_upload_whose_commit_fails_leaves_no_file_and_no_row(deal_factory, merchant_admin, make_user):
    """Three images and a new video are stored, then the commit fails: the audit row names an
    operator whose account was deleted while the request ran (the roles were read at its start),
    and the database refuses the foreign key. Nothing of the upload stays; the old video stays."""
    deal = deal_factory(live=False)
    (old_video,) = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video())
    before = stored()
    ghost = make_user(Role.OPERATOR)
    assert Role.OPERATOR in roles_of(ghost)  # read at the start of the request, as a view does
    type(ghost).objects.filter(pk=ghost.pk).delete()

    with pytest.raises(IntegrityError):
        services.deal_media_upload(
            actor=ghost, deal_id=deal.pk, images=[image(), image("b.jpg", "JPEG"), image()], video=video("w.webm", WEBM)
        )

    assert stored() == before
    assert list(DealMedia.objects.filter(deal=deal)) == [old_video]
    assert default_storage.exists(old_video.file.name)


def test_a_removed_file_goes_only_after_the_removal_commits(deal_factory, merchant_admin):
    deal = deal_factory(live=False)
    first, second = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, images=[image(), image()])

    with pytest.raises(CallerRolledBack), transaction.atomic():
        services.deal_media_remove(actor=merchant_admin, deal_id=deal.pk, media_id=first.pk)
        assert default_storage.exists(first.file.name)
        raise CallerRolledBack
    assert DealMedia.objects.filter(pk=first.pk).exists()
    assert default_storage.exists(first.file.name)  # the row is back, so is its file

    with transaction.atomic():
        services.deal_media_remove(actor=merchant_admin, deal_id=deal.pk, media_id=first.pk)
        assert default_storage.exists(first.file.name)  # not before the commit
    assert not DealMedia.objects.filter(pk=first.pk).exists()
    assert not default_storage.exists(first.file.name)
    assert default_storage.exists(second.file.name)


def test_a_replaced_videos_file_goes_only_after_the_replacement_commits(deal_factory, merchant_admin):
    deal = deal_factory(live=False)
    (old,) = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video())

    with pytest.raises(CallerRolledBack), transaction.atomic():
        services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video("w.webm", WEBM))
        raise CallerRolledBack
    assert list(DealMedia.objects.filter(deal=deal)) == [old]
    assert default_storage.exists(old.file.name)

    with transaction.atomic():
        (new,) = services.deal_media_upload(actor=merchant_admin, deal_id=deal.pk, video=video("w.webm", WEBM))
        assert default_storage.exists(old.file.name)  # not before the commit
    assert list(DealMedia.objects.filter(deal=deal)) == [new]
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(new.file.name)
