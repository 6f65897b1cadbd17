"""Voucher codes (團購券號): 19 random digits from `secrets` (63 bits) and one Damm check digit.

Digits only, so a clerk types them on a phone's number pad; shown in groups of four. The Damm
check digit catches every single wrong digit and every swap of two neighbours, so a typo is
answered at the counter ("check the code") before any database lookup — and a typo never
counts as a guess against the store's lockout.
"""

from __future__ import annotations

import re
import secrets
import struct

RANDOM_DIGITS = 19  # 10**19 > 2**63
LENGTH = RANDOM_DIGITS + 1

# The Damm algorithm's totally anti-symmetric quasigroup of order 10.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

_SEPARATORS = re.compile(r"[\s\-_.·]+")


def damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def generate() -> str:
    body = f"{secrets.randbelow(10**RANDOM_DIGITS):0{RANDOM_DIGITS}d}"
    return body + str(damm(body))


def _damm_table(width: int) -> list[list[int]]:
    """Damm's interim digit after `width` more digits: ``table[interim][digits as a number]``."""
    table = [[i] for i in range(10)]
    for _ in range(width):
        table = [[_DAMM[v][d] for v in row for d in range(10)] for row in table]
    return table


_DAMM_3 = _damm_table(3)
_DAMM_4 = _damm_table(4)


def generate_many(n: int) -> list[str]:
    """`n` codes as `generate` makes them (19 digits uniform over 10**19 from `secrets`, Damm
    check digit), for issuing thousands at once: the randomness drawn in one call, the check
    digit four digits per table lookup."""
    made: list[str] = []
    limit = 10**RANDOM_DIGITS
    while len(made) < n:
        # 64 random bits per candidate; those below 10**19 (54%) are uniform over the codes
        want = n - len(made)
        count = 2 * want + 16
        for value in struct.unpack(f">{count}Q", secrets.token_bytes(8 * count)):
            if value >= limit:
                continue
            check = _DAMM_4[
                _DAMM_4[_DAMM_4[_DAMM_4[_DAMM_3[0][value // 10**16]][value // 10**12 % 10000]][value // 10**8 % 10000]][
                    value // 10000 % 10000
                ]
            ][value % 10000]
            made.append(f"{value:019d}{check}")
            if len(made) == n:
                break
    return made


def normalise(text: str) -> str:
    """What a clerk typed or a scanner read, without spaces and dashes."""
    return _SEPARATORS.sub("", text or "")


def is_well_formed(code: str) -> bool:
    """Twenty digits whose Damm checksum is zero (a valid check digit)."""
    return len(code) == LENGTH and code.isascii() and code.isdigit() and damm(code) == 0


def display(code: str) -> str:
    """1234 5678 9012 3456 7890"""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def generate_password() -> str:
    return f"{secrets.randbelow(10**6):06d}"
