import pytest
from django.core.exceptions import ValidationError

from tuangou.accounts.mobile import mask_mobile, normalize_mobile


@pytest.mark.parametrize(
    "raw", ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "86 13800138000", "(138)00138000"]
)
def test_normalises_to_eleven_digits(raw):
    assert normalize_mobile(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380000", "+1 415 555 0100", "abc"])
def test_rejects_non_mainland_numbers(raw):
    with pytest.raises(ValidationError):
        normalize_mobile(raw)


def test_mask():
    assert mask_mobile("13800138000") == "138****8000"
