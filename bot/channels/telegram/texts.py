"""The few user-facing strings that only the Telegram channel shows (the core's are in bot/core/texts)."""

from __future__ import annotations

# Toast on a button whose message is unknown, from another chat, or no longer has that button.
BUTTON_STALE = "这个按钮已失效，请重新发送命令。"
# Appended to a question's message once one of its answer buttons was pressed (its buttons removed).
BUTTON_CHOSEN = "\n\n✅ 已选：{label}"
