from __future__ import annotations

import math

from tuangou.vouchers import codes


def test_codes_carry_at_least_60_random_bits_and_a_valid_check_digit() -> None:
    assert math.log2(10**codes.RANDOM_DIGITS) >= 60
    seen = {codes.generate() for _ in range(2000)}
    assert len(seen) == 2000
    assert all(codes.is_well_formed(c) and len(c) == 20 for c in seen)


def test_every_single_digit_typo_and_neighbour_swap_is_caught() -> None:
    code = codes.generate()
    for i in range(len(code)):
        for d in "0123456789":
            if d != code[i]:
                assert not codes.is_well_formed(code[:i] + d + code[i + 1 :])
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not codes.is_well_formed(swapped)


def test_display_and_normalise_round_trip() -> None:
    code = codes.generate()
    shown = codes.display(code)
    assert shown.count(" ") == 4 and len(shown.split(" ")[0]) == 4
    assert codes.normalise(shown) == code
    assert codes.normalise(shown.replace(" ", "-")) == code
    assert not codes.is_well_formed("1234")
    assert not codes.is_well_formed("abcd" * 5)
