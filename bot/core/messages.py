"""The one contract between channels and the core: small frozen messages in and out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    kind: str  # "photo", "location", "voice", "sticker", "file", ...
    ref: str = ""  # channel's file id / media id, or "lat,lon" for a location


@dataclass(frozen=True)
class Inbound:
    """A message that reached the bot, already converted from the channel's own format."""

    channel: str  # "console", "telegram", "wecom"
    sender: str  # the sender's id on that channel
    chat: str  # where to answer on that channel
    text: str
    message_id: str = ""
    attachments: tuple[Attachment, ...] = ()
    is_group: bool = False
    sender_name: str = ""


@dataclass(frozen=True)
class Button:
    label: str
    # What the bot receives back when the button is pressed (a command line such as "/ack SJ-...").
    reply: str


@dataclass(frozen=True)
class Document:
    """A file sent with a message (an export)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Outbound:
    """A message the core wants sent; the channel decides how to render buttons and documents."""

    channel: str
    to: str
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    document: Document | None = None
    # The outbox row it was sent from (set by the dispatcher), so a channel can refer back to its
    # buttons in a short callback ("o123.1" instead of the whole command line).
    outbox_id: int | None = None
