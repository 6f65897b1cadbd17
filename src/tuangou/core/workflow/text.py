"""Measuring and wrapping labels without a font file.

A Chinese character is about one em wide and a Latin one a little over half, which is close
enough to fit labels in boxes for every common sans-serif face (Noto Sans CJK, PingFang,
Microsoft JhengHei). No system binaries and no font metrics: output depends only on the text.
"""

from __future__ import annotations

import re
import unicodedata

CJK_EM = 1.0
LATIN_EM = 0.55
UPPER_EM = 0.68
SPACE_EM = 0.3

# Characters that must not start a line (Chinese line breaking, 避頭點).
_NO_LINE_START = set("，。、；：？！）」』》〉】,.;:?!)")
_TOKEN = re.compile(r"\s+|[(\[（「『]*[A-Za-z0-9_\-/.'&%#+]+[)\]）」』,.;:?!]*|[（「『《〈【]*.", re.DOTALL)


def is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def char_width(char: str, size: float) -> float:
    if is_wide(char):
        return CJK_EM * size
    if char.isspace():
        return SPACE_EM * size
    if char.isupper():
        return UPPER_EM * size
    return LATIN_EM * size


def text_width(text: str, size: float) -> float:
    return sum(char_width(c, size) for c in text)


def wrap(text: str, width: float, size: float) -> list[str]:
    """Split `text` into lines no wider than `width` at font `size` (greedy, deterministic).

    Chinese breaks between any two characters (never before closing punctuation); Latin
    breaks at spaces, and inside a word only when the word alone is too wide.
    """
    text = " ".join(str(text).split())
    if not text:
        return [""]
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if token.isspace():
            if line:
                line += " "
            continue
        candidate = line + token
        if text_width(candidate.rstrip(), size) <= width or not line.strip():
            if text_width(token, size) > width and not line.strip():
                # a single word wider than the box: cut it by characters
                for char in token:
                    if text_width(line + char, size) > width and line:
                        lines.append(line)
                        line = ""
                    line += char
            else:
                line = candidate
            continue
        if token in _NO_LINE_START:
            # keep closing punctuation with the previous line, even if a little over
            line = candidate
            continue
        lines.append(line.rstrip())
        line = token
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def block_width(lines: list[str], size: float) -> float:
    return max((text_width(line, size) for line in lines), default=0.0)


def wrap_balanced(text: str, width: float, size: float) -> list[str]:
    """Like `wrap`, with lines of even length: "團購部登記後開票 / 發貨" becomes 5 + 5."""
    lines = wrap(text, width, size)
    if len(lines) < 2:
        return lines
    low, high = width / len(lines), width
    best = lines
    for _ in range(12):  # bisect the narrowest width that keeps the same number of lines
        mid = (low + high) / 2
        candidate = wrap(text, mid, size)
        if len(candidate) <= len(lines) and block_width(candidate, size) <= mid + 0.01:
            best, high = candidate, mid
        else:
            low = mid
    return best
