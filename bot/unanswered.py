"""`dutybot unanswered`: the questions no rule answered, most asked first — what the admin reads to
grow seeds/lexicon (synonyms, domain words) from how staff actually talk."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.storage.models import UnansweredQuestion

REASONS = {
    "low_confidence": "没有条款覆盖问题的主要内容",
    "low_coverage": "没有条款覆盖问题的主要内容",  # older rows: the measure's earlier name
    "low_score": "匹配太弱",
    "no_match": "一个词都没匹配上",
    "empty": "没有可用的词",
}


def most_asked(
    sessions: sessionmaker[Session], since: datetime, limit: int
) -> list[tuple[str, int, datetime, str]]:
    """(question, times asked, last asked, reason of the last time), most asked first."""
    with sessions() as session:
        rows = session.execute(
            select(UnansweredQuestion.text, func.count(), func.max(UnansweredQuestion.asked_at),
                   func.max(UnansweredQuestion.reason))
            .where(UnansweredQuestion.asked_at >= since)
            .group_by(UnansweredQuestion.text)
            .order_by(func.count().desc(), func.max(UnansweredQuestion.asked_at).desc())
            .limit(limit)
        ).all()
    return [(text, int(n), last if last.tzinfo else last.replace(tzinfo=UTC), reason)
            for text, n, last, reason in rows]


def cli(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None,
        now: datetime | None = None) -> int:
    from bot.storage.db import make_engine, session_factory, upgrade

    out = out or sys.stdout
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        rows = most_asked(session_factory(engine), now - timedelta(days=args.days), args.limit)
    finally:
        engine.dispose()
    if not rows:
        print(f"最近 {args.days} 天没有答不上来的问题。", file=out)
        return 0
    print(f"最近 {args.days} 天答不上来的问题（{len(rows)} 种，问得多的在前）：", file=out)
    for text, n, last, reason in rows:
        local = last.astimezone(tz)
        print(f"{n:>4} 次  {local:%m-%d %H:%M}  {text}  （{REASONS.get(reason, reason)}）", file=out)
    print("规定里有答案的问题：把这个问法写进 seeds/askings.txt 对应条款下面（条款引用用 dutybot corpus show 查）；"
          "员工的说法和规定用词不同：加进 seeds/lexicon/synonyms.txt（标准词在前）。"
          "改完运行 dutybot seeds check。", file=out)
    return 0
