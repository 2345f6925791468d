"""SQLAlchemy models: people and their channel accounts, records, dialogs, the outbox.

Timestamps are stored timezone-aware (UTC on the wire); the display zone is the TIMEZONE setting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class AwareDateTime(TypeDecorator[datetime]):
    """Always-aware datetimes: SQLite keeps no zone, so values are stored as UTC and read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: AwareDateTime, dict[str, Any]: JSON}


# Roles, lowest to highest.
ROLES = ("guard", "clerk", "manager", "admin")


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    # Escalation level of a manager (1 = first to be told); None for people outside the chain.
    level: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Console identities are for local testing: never escalated to, never on a roster.
    is_console: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="person", lazy="selectin")


class Account(Base):
    """One person's identity on one channel (Telegram user id, WeCom userid, console name)."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    # Where to reach the person on that channel (a private chat id); defaults to external_id.
    chat_id: Mapped[str] = mapped_column(String(128))
    # The person blocked the bot (Telegram 403): not retried until they write again.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="accounts")


class Invite(Base):
    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the code: a database leak does not leak usable codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str | None] = mapped_column(String(16), default=None)
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    # Set when the code binds another channel account to an existing person.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("account.id"), default=None)


class LoginAttempt(Base):
    """Wrong invite codes, per channel account, for throttling guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_who", "channel", "external_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class Counter(Base):
    """Per-prefix, per-day sequence for record numbers (SJ-20261127-003)."""

    __tablename__ = "counter"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Record(Base):
    """An incident report (SJ-…) or a complaint (TS-…)."""

    __tablename__ = "record"
    __table_args__ = (Index("ix_record_open", "kind", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "incident" | "complaint"
    status: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200), default=None)
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    customer: Mapped[str | None] = mapped_column(String(100), default=None)
    contact: Mapped[str | None] = mapped_column(String(100), default=None)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    # Highest escalation level told so far (0 = nobody yet), and when the next step is due
    # (None: nothing pending — acknowledged, closed, or not escalated at all).
    escalated_level: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    acked_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    author: Mapped[Person] = relationship(foreign_keys=[author_id], lazy="joined")
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    events: Mapped[list[RecordEvent]] = relationship(
        back_populates="record", order_by="RecordEvent.id", lazy="selectin"
    )
    attachments: Mapped[list[RecordAttachment]] = relationship(
        back_populates="record", order_by="RecordAttachment.id", lazy="selectin"
    )


class RecordEvent(Base):
    """The audit trail of a record: who did what, when, with what note."""

    __tablename__ = "record_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, default=None)

    record: Mapped[Record] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship(lazy="joined")


class RecordAttachment(Base):
    __tablename__ = "record_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "photo" | "location"
    channel: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    record: Mapped[Record] = relationship(back_populates="attachments")


class Handover(Base):
    """交接班记录: what the outgoing shift hands over, with the records open at that moment."""

    __tablename__ = "handover"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    content: Mapped[str] = mapped_column(Text)
    open_numbers: Mapped[str] = mapped_column(Text, default="")  # comma-separated record numbers
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[Person] = relationship(lazy="joined")


class Dialog(Base):
    """A half-finished guided dialog (a report being written), so a restart loses nothing."""

    __tablename__ = "dialog"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    sender: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenInbound(Base):
    """Dedupe keys of handled inbound messages: a redelivered message is handled once."""

    __tablename__ = "seen_inbound"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxMessage(Base):
    """A message a channel received, stored before the channel answers its server (webhook 200), so
    nothing acknowledged is lost; a worker hands each to the core in order. The unique key drops
    redeliveries (webhook retries, a poll repeated after a crash)."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | handling | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """Every message the bot sends: replies, notifications, reminders. Retried until sent or failed."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A file to deliver with the message (exports): name and bytes.
    document_name: Mapped[str | None] = mapped_column(String(200), default=None)
    document: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # Optional idempotency key (e.g. "escalate:12:2"): the same notification is queued once.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


# --- Duty: reminders, shifts, roster, check-ins, welfare checks, scheduler coordination ---------------


class Reminder(Base):
    """A scheduled message: a rule schedule from seeds/ (kind "rule") or one a manager set ("adhoc").

    The APScheduler job "reminder:<id>" fires it; the row is the source of truth, so jobs can be
    rebuilt from the table at any start.
    """

    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "rule" | "adhoc"
    # Stable key of a rule schedule in seeds/ (None for ad-hoc ones).
    rule_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    # Who gets it: {"role": "guard"} | {"on_duty": true} | {"group": "managers"} | {"person_ids": [1, 2]}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    text: Mapped[str] = mapped_column(Text)
    citation: Mapped[str | None] = mapped_column(String(200), default=None)
    # The schedule as written ("每周一 08:30") and as a trigger ({"type": "cron", ...} / {"type": "date", ...}).
    schedule: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Firing(Base):
    """One claim per firing of a scheduled thing ("reminder:12@2026-11-27T12:45Z"): the backstop
    that keeps a reminder sent once even if two schedulers ever fire it."""

    __tablename__ = "firing"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Lease(Base):
    """Leader election for the one scheduler: the holder renews before `expires_at`."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()


class ShiftAssignment(Base):
    """Roster: a person on a shift (seeds/shifts.toml code) starting on a local date."""

    __tablename__ = "shift_assignment"
    __table_args__ = (UniqueConstraint("person_id", "day", "shift"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    shift: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)  # local date the shift starts
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What happened on this shift, each set once (the duty tick's record of what it did).
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    absence_alerted_at: Mapped[datetime | None] = mapped_column(default=None)
    handover_reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    handover_escalated_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")


class WelfareCheck(Base):
    """防睡岗: the guard on a night shift is asked to confirm (/ok) within a few minutes."""

    __tablename__ = "welfare_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("shift_assignment.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    asked_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)


class UnansweredQuestion(Base):
    """A question no rule answered, kept for the admin (`dutybot unanswered`): what staff ask in their
    own words is what the synonyms and the user dictionary in seeds/lexicon should learn from."""

    __tablename__ = "unanswered_question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(32))
