"""The core's Outbound → what Telegram takes: text parts of at most 4096 characters and an inline
keyboard whose buttons carry short callback data ("o<outbox id>.<index>", looked up when pressed).

Telegram counts a message's length in UTF-16 code units (an emoji outside the BMP counts twice), so
the split measures that way, prefers paragraph, line and clause boundaries, and never cuts inside a
character or between a character and its combining mark / emoji joiner.
"""

from __future__ import annotations

import unicodedata

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.telegram.convert import callback_data
from bot.core.messages import Outbound

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Where a long text is best cut, best first; the cut goes after the separator.
_BOUNDARIES = ("\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", "、", ",", " ")
# Short labels go several to a row; long ones (a list of names) one per row.
_SHORT_LABEL = 6
_PER_ROW = 3
# Used when the core sends an empty text (Telegram refuses empty messages).
EMPTY = "…"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-16 units, at the best boundary in each window."""
    if not text.strip():
        return [EMPTY]
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = _fit(rest, limit)
        cut = _boundary(rest, window)
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n")
        if part:
            parts.append(part)
    if rest.strip():
        parts.append(rest)
    return parts


def _fit(text: str, limit: int) -> int:
    """The longest prefix (in code points) that stays within `limit` UTF-16 units."""
    units, n = 0, 0
    for ch in text:
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            break
        n += 1
    return n


def _boundary(text: str, window: int) -> int:
    """A cut in text[:window]: the best separator in its last two thirds, else a safe hard cut."""
    floor = window // 3
    for sep in _BOUNDARIES:
        at = text.rfind(sep, floor, window)
        if at != -1 and at + len(sep) <= window:
            return at + len(sep)
    cut = window
    while cut > 1 and _joins(text, cut):
        cut -= 1
    return cut


def _joins(text: str, cut: int) -> bool:
    """True when cutting before text[cut] would separate parts of one visible character."""
    if cut >= len(text):
        return False
    nxt, prev = text[cut], text[cut - 1]
    return (unicodedata.combining(nxt) != 0 or nxt in "\u200d\ufe0f\ufe0e" or prev == "\u200d"
            or 0x1F3FB <= ord(nxt) <= 0x1F3FF or 0xE0020 <= ord(nxt) <= 0xE007F)


def inline_keyboard(out: Outbound) -> InlineKeyboardMarkup | None:
    """The outbound's buttons; each press comes back as the button's reply (see receive). Only rows
    sent from the outbox (the dispatcher always sets outbox_id) can have buttons to refer back to."""
    if not out.buttons or out.outbox_id is None:
        return None
    buttons = [InlineKeyboardButton(b.label[:64], callback_data=callback_data(out.outbox_id, i))
               for i, b in enumerate(out.buttons)]
    short = all(len(b.text) <= _SHORT_LABEL for b in buttons)
    per_row = _PER_ROW if short else 1
    return InlineKeyboardMarkup([buttons[i:i + per_row] for i in range(0, len(buttons), per_row)])
