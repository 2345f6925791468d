"""Housekeeping ("jobs.housekeeping:tick", hourly): forget dedupe keys and handled inbox rows once no
server can redeliver those messages any more (Telegram keeps updates 24 h, WeCom retries for seconds).

Records, events, the outbox and reminders are history and are never deleted here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.storage.models import InboxMessage, SeenInbound
from jobs import runtime

log = logging.getLogger(__name__)

REF = "jobs.housekeeping:tick"
KEEP = timedelta(days=7)


def purge(session: Session, now: datetime, keep: timedelta = KEEP) -> int:
    """Delete dedupe keys and handled inbox rows older than `keep`; returns how many rows went."""
    cutoff = now - keep
    seen = session.execute(delete(SeenInbound).where(SeenInbound.at < cutoff)).rowcount
    inbox = session.execute(
        delete(InboxMessage).where(InboxMessage.status == "done", InboxMessage.received_at < cutoff)
    ).rowcount
    return int(seen or 0) + int(inbox or 0)


def tick() -> int:
    app = runtime.app()
    with app.services.sessions.begin() as session:
        gone = purge(session, app.services.clock())
    if gone:
        log.info("housekeeping: %s old dedupe keys / inbox rows deleted", gone)
    return gone
