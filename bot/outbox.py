"""The outbox: every message the bot sends is a row first, then a delivery with retries.

Handlers only enqueue (inside their own transaction). The dispatcher claims due rows, hands them to
the channel's sender, and marks them sent, due again later (with backoff), or failed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.messages import Button, Document, Outbound
from bot.storage.models import OutboxMessage, Person

CONSOLE = "console"
# The channel of a row addressed to someone with no reachable account: failed at once, admins told.
UNREACHABLE = "none"
# A WeCom group robot is a chat of the WeCom channel: "robot:<name>" (name as in WECOM_ROBOT_WEBHOOKS).
ROBOT_CHANNEL = "wecom"


def robot_chat(name: str) -> str:
    return f"robot:{name}"


def valid_robot_name(name: str) -> bool:
    """1–30 characters, no spaces or quotes (the seed checkers say so in Chinese)."""
    return 1 <= len(name) <= 30 and not any(ch.isspace() or ch in "\"'<>:" for ch in name)


def enqueue(
    session: Session,
    out: Outbound,
    *,
    now: datetime,
    person_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue one message; with a dedupe key already queued, nothing is added and None returned."""
    if dedupe_key is not None:
        existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    row = OutboxMessage(
        channel=out.channel,
        chat=out.to,
        person_id=person_id,
        text=out.text,
        buttons={"buttons": [[b.label, b.reply] for b in out.buttons]} if out.buttons else {},
        document_name=out.document.name if out.document else None,
        document=out.document.content if out.document else None,
        dedupe_key=dedupe_key,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def address(person: Person, active_channels: tuple[str, ...]) -> tuple[str, str] | None:
    """Where to reach a person: their account on the first active channel that has one.

    When none of their channels runs but the console does, the console shows the message
    ("→ 姓名(角色): …"), so a local session sees every notification it caused.
    """
    by_channel = {a.channel: a for a in person.accounts if not a.blocked}
    for channel in active_channels:
        account = by_channel.get(channel)
        if account is not None and channel != CONSOLE:
            return channel, account.chat_id
    if CONSOLE in active_channels:
        return CONSOLE, f"person:{person.id}"
    return None


def buttons_of(row: OutboxMessage) -> tuple[Button, ...]:
    return tuple(Button(label, reply) for label, reply in (row.buttons or {}).get("buttons", []))


def outbound_of(row: OutboxMessage) -> Outbound:
    document = Document(row.document_name, row.document) if row.document_name and row.document else None
    return Outbound(row.channel, row.chat, row.text, buttons_of(row), document, outbox_id=row.id)
