"""python-telegram-bot's errors → the outbox's DeliveryError (what to retry, when, and what is final).

PTB maps the Bot API's HTTP status: 429 → RetryAfter, 403 → Forbidden, 400 → BadRequest, 401/404 →
InvalidToken, 409 → Conflict, anything else (5xx) and transport failures → NetworkError / TimedOut.
"""

from __future__ import annotations

import warnings

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.dispatch import DeliveryError


def retry_seconds(err: RetryAfter) -> float:
    """Flood wait in seconds (an int, or a timedelta once PTB_TIMEDELTA is on; no deprecation noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = err.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def delivery_error(err: TelegramError) -> DeliveryError:
    if isinstance(err, RetryAfter):
        # Flood control: the whole channel waits; the message keeps its attempts.
        return DeliveryError("Telegram flood control", retry_after=retry_seconds(err))
    if isinstance(err, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot was kicked from the group chat"
        return DeliveryError(f"Telegram: {err.message}", blocked=True)
    if isinstance(err, ChatMigrated):
        return DeliveryError(f"Telegram: group moved to chat {err.new_chat_id}", permanent=True)
    if isinstance(err, BadRequest):
        # "chat not found" and malformed requests: sending the same again cannot succeed.
        return DeliveryError(f"Telegram: {err.message}", permanent=True)
    if isinstance(err, InvalidToken):
        # Fixed by the admin and a restart; the message waits with backoff meanwhile.
        return DeliveryError("Telegram rejected the bot token")
    if isinstance(err, NetworkError):  # includes TimedOut and 5xx
        return DeliveryError(f"Telegram unreachable: {type(err).__name__}: {err.message}")
    return DeliveryError(f"Telegram: {type(err).__name__}: {err.message}")
