"""A decrypted WeCom message (fields) → the core's Inbound and its dedupe key. Pure.

Dedupe: messages by (AgentID, FromUserName, MsgId); events have no MsgId, and FromUserName +
CreateTime alone drops distinct events sent in the same second (WxJava #1745), so an event's key is a
digest of every field it carries — a retry repeats the same XML, a different event differs somewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bot.channels.wecom.menu import command_for_key
from bot.core.messages import Attachment, Inbound

CHANNEL = "wecom"
# Events that greet like /start: the user opened the app or was added to its visible range.
GREET_EVENTS = frozenset({"subscribe", "enter_agent"})


@dataclass(frozen=True)
class Converted:
    inbound: Inbound
    key: str


def event_digest(fields: dict[str, str]) -> str:
    canonical = json.dumps(sorted(fields.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def convert(fields: dict[str, str]) -> Converted | None:
    """The Inbound for a message the core should see; None for what is acknowledged and dropped
    (LOCATION reports every 5 s, unsubscribe, unknown types, system senders)."""
    user = fields.get("FromUserName", "")
    if not user or user == "sys":
        return None
    agent = fields.get("AgentID", "")
    kind = fields.get("MsgType", "")
    if kind == "event":
        return _event(fields, user, agent)
    msg_id = fields.get("MsgId", "")
    if not msg_id:
        return None
    text, attachments = _content(kind, fields)
    if text is None:
        return None
    inbound = Inbound(CHANNEL, sender=user, chat=user, text=text, message_id=msg_id,
                      attachments=attachments)
    return Converted(inbound, f"wecom:msg:{agent}:{user}:{msg_id}")


def _content(kind: str, f: dict[str, str]) -> tuple[str | None, tuple[Attachment, ...]]:
    if kind == "text":
        return f.get("Content", ""), ()
    if kind == "image":
        return "", (Attachment("photo", f.get("MediaId", "")),)
    if kind == "location":
        return "", (Attachment("location", f"{f.get('Location_X', '')},{f.get('Location_Y', '')}"),)
    if kind in ("voice", "video", "file"):
        return "", (Attachment(kind, f.get("MediaId", "")),)
    if kind == "link":
        return " ".join(p for p in (f.get("Title", ""), f.get("Url", "")) if p), ()
    return None, ()


def _event(fields: dict[str, str], user: str, agent: str) -> Converted | None:
    event = fields.get("Event", "")
    name = event.lower()
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    if name in GREET_EVENTS:
        text = "/start"
    elif name == "click":
        text = command_for_key(fields.get("EventKey", ""))
    elif name == "location_select" and fields.get("Location_X") and fields.get("Location_Y"):
        text = ""
        attachments = (Attachment("location", f"{fields.get('Location_X')},{fields.get('Location_Y')}"),)
    elif name in ("scancode_waitmsg", "scancode_push") and fields.get("ScanResult"):
        text = fields.get("ScanResult", "")
    if text is None:
        return None  # LOCATION, unsubscribe, view, unknown: acknowledged, not stored
    digest = event_digest(fields)
    inbound = Inbound(CHANNEL, sender=user, chat=user, text=text, message_id=f"ev-{digest}",
                      attachments=attachments)
    return Converted(inbound, f"wecom:event:{agent}:{user}:{fields.get('CreateTime', '')}:{event}:"
                              f"{fields.get('EventKey', '')[:64]}:{digest}")
