"""Mark matched terms in a clause's text for chat display."""

from __future__ import annotations

import re
from collections.abc import Iterable

OPEN, CLOSE = "【", "】"


def highlight(text: str, terms: Iterable[str], open_mark: str = OPEN, close_mark: str = CLOSE) -> str:
    """Wrap each occurrence of any term in marks; longer terms win where they overlap."""
    words = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not words:
        return text
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    return pattern.sub(lambda m: f"{open_mark}{m.group(0)}{close_mark}", text)
