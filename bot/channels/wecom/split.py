"""WeCom limits are in UTF-8 bytes (a Chinese character is 3): split long text into parts that fit,
on line boundaries first, then after clause punctuation, never inside a character."""

from __future__ import annotations

CLAUSE_ENDS = frozenset("。！？；!?;，,、：: ")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _fitting_chars(text: str, limit: int) -> int:
    """How many leading characters of `text` fit in `limit` bytes."""
    used = 0
    for i, ch in enumerate(text):
        used += len(ch.encode("utf-8"))
        if used > limit:
            return i
    return len(text)


def split_bytes(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` bytes each, joined they give `text` back (minus the newlines cut at)."""
    if limit < 4:
        raise ValueError("limit too small")
    parts: list[str] = []
    rest = text
    while utf8_len(rest) > limit:
        n = _fitting_chars(rest, limit)
        window = rest[:n]
        floor = n // 3  # a cut this early would make tiny parts: rather cut a clause or mid-line
        cut = window.rfind("\n")
        if cut >= floor and cut > 0:
            parts.append(window[:cut])
            rest = rest[cut + 1:]
            continue
        cut = max((i for i, ch in enumerate(window) if ch in CLAUSE_ENDS), default=-1)
        if cut < floor:
            cut = n - 1
        parts.append(window[:cut + 1])
        rest = rest[cut + 1:]
    if rest or not parts:
        parts.append(rest)
    return parts
