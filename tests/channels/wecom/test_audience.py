"""Group robots as an audience: `who = "robot:经理群"` in reminders.toml and `[robot]` in escalation.toml,
checked by the seed checkers, and posted to the robot's group through the outbox."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.escalation import parse_chain
from bot.core.timephrase import parse, to_dict
from bot.storage.models import Reminder
from jobs.reminder_seeds import parse_seeds
from jobs.reminders import fire_at
from tests.channels.wecom.support import ROBOT_KEY, register, running, text_msg, wecom_settings
from tests.conftest import SEEDS
from tests.fakes.wecom_api import FakeWeCom

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RULE = '[[reminder]]\nkey = "digest"\nwhen = "每天 18:00"\nwho = "{who}"\ntext = "请查看今日值班小结。"\nrule = "x"\n'
CHAIN = ('[[level]]\nlevel = 1\nname = "班长"\nwait_minutes = 15\n[top]\nrepeat_minutes = 30\n'
         '[complaint]\ntop_level = 1\n')


def test_reminder_seeds_accept_a_robot_audience_and_explain_a_bad_one() -> None:
    seeds, problems = parse_seeds(RULE.format(who="robot:经理群"), "reminders.toml", tz=SH, now=NOW)
    assert problems == [] and seeds is not None
    assert dict(seeds.rules[0].audience) == {"robot": "经理群"}
    for bad in ("robot:", "robot:经理 群", "robot:" + "群" * 31):
        seeds, problems = parse_seeds(RULE.format(who=bad), "reminders.toml", tz=SH, now=NOW)
        assert seeds is None and "robot:经理群" in problems[0].message and "WECOM_ROBOT_WEBHOOKS" in problems[0].message


def test_escalation_seed_takes_an_optional_robot() -> None:
    chain, problems = parse_chain(CHAIN, "escalation.toml")
    assert problems == [] and chain is not None and chain.robot is None
    chain, problems = parse_chain(CHAIN + '[robot]\nname = "经理群"\n', "escalation.toml")
    assert problems == [] and chain is not None and chain.robot == "经理群"
    chain, problems = parse_chain(CHAIN + '[robot]\nname = ""\nchat = "x"\n', "escalation.toml")
    assert chain is None
    messages = [p.message for p in problems]
    assert any("不认识的设置“chat”" in m for m in messages) and any("群机器人的名称" in m for m in messages)
    assert all(p.line > 0 for p in problems)


@pytest.fixture()
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(robot_keys={ROBOT_KEY}) as server:
        yield server


def test_new_records_and_reminders_reach_the_robot(tmp_path: Path, fake: FakeWeCom, searcher) -> None:  # type: ignore[no-untyped-def]
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    with (seeds / "escalation.toml").open("a", encoding="utf-8") as f:
        f.write('\n[robot]\nname = "经理群"\n')
    settings = wecom_settings(tmp_path / "data", fake, seeds_dir=seeds)
    register(settings, "张保安", "guard", "zhangbaoan")
    register(settings, "李班长", "manager", "libanzhang", level=1)

    async def scenario() -> None:
        async with running(settings, searcher, fake) as bot:
            app = bot.serving.app
            await bot.post(text_msg("zhangbaoan", "上报 东门围墙有人翻入"))
            await bot.settle(lambda: len(fake.robot_sent) == 1 and bool(fake.texts_to("libanzhang")))
            # Yesterday's 18:00: due by the real clock the dispatcher goes by.
            at = (datetime.now(SH) - timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
            when = parse("每天 18:00", at - timedelta(days=1), SH)
            with app.services.sessions.begin() as session:
                row = Reminder(kind="rule", audience={"robot": "经理群"}, text="请查看今日值班小结。",
                               schedule="每天 18:00", trigger=to_dict(when.trigger), active=True)
                session.add(row)
                session.flush()
                reminder_id = row.id
            assert await asyncio.to_thread(fire_at, app, reminder_id, at)
            assert not await asyncio.to_thread(fire_at, app, reminder_id, at)  # claimed once
            await bot.settle(lambda: len(fake.robot_sent) == 2)
            await bot.settle(lambda: True)

    asyncio.run(scenario())
    (key1, record), (key2, digest) = fake.robot_sent
    assert key1 == key2 == ROBOT_KEY
    assert "SJ-" in record["text"]["content"] and "东门围墙有人翻入" in record["text"]["content"]
    assert "收到 SJ-" in record["text"]["content"]
    assert "请查看今日值班小结。" in digest["text"]["content"]
