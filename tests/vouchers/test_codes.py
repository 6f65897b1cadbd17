from __future__ import annotations

import math

import pytest

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


def test_codes_in_bulk_are_those_of_generate(monkeypatch: pytest.MonkeyPatch) -> None:
    made = codes.generate_many(5000)
    assert len(made) == 5000 and len(set(made)) == 5000
    # the check digit is Damm's of the body, the body is 19 digits spread over all of 0…10**19
    assert all(len(c) == 20 and c[-1] == str(codes.damm(c[:-1])) and codes.is_well_formed(c) for c in made)
    assert {c[0] for c in made} == set("0123456789")
    # candidates at or above 10**19 are dropped, not folded onto the codes (no bias)
    top = (2**64 - 1).to_bytes(8, "big")
    fixed = (10**19 - 1).to_bytes(8, "big") + (123).to_bytes(8, "big")
    monkeypatch.setattr(codes.secrets, "token_bytes", lambda n: (top + fixed) * (n // 24) + top * (n % 24 // 8))
    assert codes.generate_many(2) == [
        "9" * 19 + str(codes.damm("9" * 19)),
        "0" * 16 + "123" + str(codes.damm("0" * 16 + "123")),
    ]
    assert codes.generate_many(0) == []
