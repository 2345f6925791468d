"""Telegram updates → the core's Inbound messages (pure functions; the button lookup lives in receive).

- A private message always counts; in a group only a command to this bot, a mention of it, or a reply
  to one of its messages does (the "@botname" is stripped, so "@bot 值班能喝酒吗" is just the question).
- A photo or location is an attachment: Attachment("photo", file_id of the largest size),
  Attachment("location", "lat,lon"); a caption is the text. A photo alone is never dropped.
- The Inbound's message_id is the update id: a redelivered update is the same message to the core.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, Update

from bot.core.messages import Attachment, Inbound

CHANNEL = "telegram"
GROUP_TYPES = frozenset({"group", "supergroup"})
# Telegram's own callback_data limit is 64 bytes; ours is "o<outbox id>.<button index>".
_CALLBACK = re.compile(r"^o(\d{1,18})\.(\d{1,2})$")


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is (from getMe): needed to tell mentions and replies to it in groups."""

    id: int
    username: str


@dataclass(frozen=True)
class Press:
    """An inline button pressed: which outbox row and button, in which chat, by whom."""

    query_id: str
    sender: str
    sender_name: str
    chat: str
    is_group: bool
    outbox_id: int
    index: int
    message_id: int  # the Telegram message carrying the buttons
    message_text: str


def intake_key(update_id: int) -> str:
    """The inbox's dedupe key: a webhook retry or a re-polled update is stored once."""
    return f"telegram:update:{update_id}"


def callback_data(outbox_id: int, index: int) -> str:
    return f"o{outbox_id}.{index}"


def parse_callback_data(data: str | None) -> tuple[int, int] | None:
    match = _CALLBACK.match(data or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def message_inbound(update: Update, me: BotIdentity) -> Inbound | None:
    """The Inbound for a new message, or None when it is not for the bot (or has nothing in it)."""
    msg = update.message
    if msg is None or msg.from_user is None or msg.from_user.is_bot:
        return None
    chat = msg.chat
    is_group = chat.type in GROUP_TYPES
    if chat.type != "private" and not is_group:
        return None  # channels: not ours to answer
    text = msg.text if msg.text is not None else (msg.caption or "")
    if is_group:
        addressed = addressed_text(msg, text, me)
        if addressed is None:
            return None
        text = addressed
    else:
        text = _strip_command_suffix(text, me) or text
    attachments = attachments_of(msg)
    if not text.strip() and not attachments:
        return None  # a service message (pinned, member joined, …)
    return Inbound(channel=CHANNEL, sender=str(msg.from_user.id), chat=str(chat.id), text=text,
                   message_id=str(update.update_id), attachments=attachments, is_group=is_group,
                   sender_name=msg.from_user.full_name)


def addressed_text(msg: Message, text: str, me: BotIdentity) -> str | None:
    """In a group: the text meant for the bot ("@bot" removed), or None when it is not for the bot."""
    command = _strip_command_suffix(text, me)
    if command is not None:
        return command
    if text.startswith("/"):
        return None  # "/help@otherbot": another bot's command
    mention = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE)
    if me.username and mention.search(text):
        return re.sub(r"\s{2,}", " ", mention.sub(" ", text)).strip()
    reply = msg.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        return text
    return None


def _strip_command_suffix(text: str, me: BotIdentity) -> str | None:
    """"/help@bot args" → "/help args"; None when the text is not a command to this bot."""
    if not text.startswith("/"):
        return None
    head, sep, rest = text.partition(" ")
    name, at, bot = head.partition("@")
    if at and bot.lower() != me.username.lower():
        return None
    return name + sep + rest


def attachments_of(msg: Message) -> tuple[Attachment, ...]:
    if msg.photo:
        largest = max(msg.photo, key=lambda size: (size.file_size or 0, size.width * size.height))
        return (Attachment("photo", largest.file_id),)
    if msg.location is not None:  # also set for a venue
        return (Attachment("location", f"{msg.location.latitude},{msg.location.longitude}"),)
    if msg.voice is not None or msg.audio is not None:
        return (Attachment("voice", (msg.voice or msg.audio).file_id),)  # type: ignore[union-attr]
    if msg.sticker is not None:
        return (Attachment("sticker", msg.sticker.file_id),)
    if msg.video is not None or msg.video_note is not None or msg.animation is not None:
        media = msg.video or msg.video_note or msg.animation
        return (Attachment("video", media.file_id),)  # type: ignore[union-attr]
    if msg.document is not None:
        return (Attachment("file", msg.document.file_id),)
    if msg.effective_attachment is not None:  # contact, poll, dice, …: the core says what it can take
        return (Attachment("other", ""),)
    return ()


def callback_press(update: Update) -> Press | None:
    """The pressed button, or None when the callback is not one of ours or its message is unknown."""
    query = update.callback_query
    if query is None or query.message is None:
        return None
    parsed = parse_callback_data(query.data)
    if parsed is None:
        return None
    message = query.message
    text = (message.text or "") if isinstance(message, Message) else ""
    return Press(query_id=query.id, sender=str(query.from_user.id), sender_name=query.from_user.full_name,
                 chat=str(message.chat.id), is_group=message.chat.type in GROUP_TYPES, outbox_id=parsed[0],
                 index=parsed[1], message_id=message.message_id, message_text=text)


def press_inbound(press: Press, reply: str) -> Inbound:
    """A pressed button is the button's reply text, as if typed (message id: the callback's own)."""
    return Inbound(channel=CHANNEL, sender=press.sender, chat=press.chat, text=reply,
                   message_id=f"cb:{press.query_id}", is_group=press.is_group, sender_name=press.sender_name)
