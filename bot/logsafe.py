"""Secrets never reach a log line: every handler's output passes through `redact`.

Known secrets (the settings' tokens and keys) are replaced wherever they appear; the patterns catch
the shapes secrets take in URLs (a Telegram bot token in the path, access_token=, corpsecret=, a
robot's key=) even when they were not configured here, e.g. a token WeCom just issued.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "***"

_PATTERNS = (
    (re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}"), HIDDEN),  # Telegram bot token
    (re.compile(r"((?:access_token|corpsecret|secret|key|token)=)[^&\s\"'<>]+", re.IGNORECASE), r"\1" + HIDDEN),
)
_secrets: set[str] = set()


def add_secrets(values: Iterable[str | None]) -> None:
    """Remember values that must never be printed (short ones are ignored: too many false hits)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """Redacts a record where it is made, so that not even a handler without the redacting formatter
    (a test's log capture, a library's own handler) can print the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_at_source(*logger_names: str) -> None:
    """Attach the filter to these loggers (once each), e.g. httpx, which logs every request URL."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


def install_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Redact on every handler of the root logger (call again after adding a handler)."""
    add_secrets(secrets)
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(FORMAT))
