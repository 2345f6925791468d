"""Reminders on a real database (SQLite and PostgreSQL): rule schedules from seeds/, ad-hoc ones set in
chat, who receives a firing, the claim that keeps it single, the commands, and a restart of the real
scheduler (a reminder missed by less than the grace window fires once; by more, it is skipped)."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.core import texts
from bot.core.services import system_clock
from bot.core.timephrase import Once, parse, to_dict
from bot.seedcheck import check_seeds
from bot.storage.models import Firing, OutboxMessage, Person, Reminder, ShiftAssignment
from jobs import reminder_audience, reminder_seeds, reminders
from jobs.reminder_list import cli, list_lines
from jobs.reminder_seeds import parse_seeds
from jobs.reminders import (
    FIRE_REF,
    JOB_PREFIX,
    LoadResult,
    fire_at,
    job_id,
    load_rules,
    sync_jobs,
)
from jobs.scheduler import build_scheduler, start_jobs, stop
from retrieval.corpus import find_clauses, load_corpus
from retrieval.lexicon import SeedError
from tests.bot.test_escalation import add_person, told
from tests.conftest import SEEDS
from tests.jobs.test_scheduler import stored_jobs, until
from tests.support import Clock, RecordingChannel, deliver, say

SH = ZoneInfo("Asia/Shanghai")
START = Clock().now  # where the test clock starts: Friday 2026-11-27 10:00 in Shanghai


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)  # type: ignore[misc]


def load(app: App) -> LoadResult:
    return load_rules(app.services.sessions, app.settings.seeds_dir, SH, app.services.clock())


def rule_id(app: App, key: str) -> int:
    with app.services.sessions() as session:
        found = session.scalar(select(Reminder.id).where(Reminder.rule_key == key))
        assert found is not None
        return found


def reminder(app: App, reminder_id: int) -> Reminder:
    with app.services.sessions() as session:
        row = session.get(Reminder, reminder_id)
        assert row is not None
        return row


def add_reminder(app: App, when: str, text: str, audience: dict, *, now: datetime | None = None,
                 created_by: int | None = None) -> int:
    """An ad-hoc reminder stored directly (the chat path is tested on its own)."""
    phrase = parse(when, now or START, SH)
    with app.services.sessions.begin() as session:
        row = Reminder(kind="adhoc", created_by=created_by, audience=audience, text=text, schedule=when,
                       trigger=to_dict(phrase.trigger), active=True)
        session.add(row)
        session.flush()
        return row.id


def on_shift(app: App, person_id: int, start: datetime, hours: int = 12) -> None:
    with app.services.sessions.begin() as session:
        session.add(ShiftAssignment(person_id=person_id, shift="night", day=start.astimezone(SH).date(),
                                    starts_at=start, ends_at=start + timedelta(hours=hours)))


def fire(app: App, reminder_id: int, at: datetime) -> bool:
    """The job running at `at` (the test clock is moved there, as the scheduler would find it)."""
    clock = app.services.clock
    assert isinstance(clock, Clock)
    clock.now = at
    sent = fire_at(app, reminder_id, at)
    deliver(app)
    return sent


def firings(app: App, reminder_id: int) -> int:
    with app.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Firing)
                              .where(Firing.key.startswith(f"{JOB_PREFIX}{reminder_id}@"))) or 0


def queued(app: App, reminder_id: int) -> list[int | None]:
    """Who the outbox holds this reminder's messages for (person ids)."""
    with app.services.sessions() as session:
        return sorted(session.scalars(select(OutboxMessage.person_id)
                                      .where(OutboxMessage.dedupe_key.startswith(f"{JOB_PREFIX}{reminder_id}@"))))


def reply_text(replies: list) -> str:
    return "\n".join(out.text for out in replies)


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, "张保安", "guard"),
        "guard2": add_person(app, "刘保安", "guard"),
        "clerk": add_person(app, "陈客服", "clerk"),
        "mgr": add_person(app, "李经理", "manager", 1),
        "mgr2": add_person(app, "周经理", "manager", 2),
        "admin": add_person(app, "孙管理", "admin"),
        # Console identities: local testing only; never reminded, even when rostered.
        "console_guard": add_person(app, "控制台保安", "guard", console=True),
        "console_mgr": add_person(app, "控制台经理", "manager", console=True),
    }


# ---------------------------------------------------------------------------------------------
# Rule schedules from seeds/


def test_the_shipped_rule_schedules_are_valid_and_cite_real_clauses() -> None:
    assert [p for p in check_seeds(SEEDS) if p.file.endswith(reminder_seeds.FILE_NAME)] == []
    seeds, problems = reminder_seeds.read_seeds(SEEDS, SH, datetime.now(UTC))
    assert problems == [] and seeds is not None
    by_key = {r.key: r for r in seeds.rules}
    gate = by_key["gate-close"]
    assert (gate.trigger.hour, gate.trigger.minute, gate.trigger.days_of_week) == (20, 45, ())
    assert dict(gate.audience) == {"on_duty": True} and gate.citation == "《更夫守则》十、"
    assert by_key["innovation-summary"].trigger.day_of_month == 20
    assert dict(by_key["guard-signoff"].audience) == {"group": "managers"}
    docs = load_corpus(SEEDS / "regulations")
    for rule in seeds.rules:
        assert find_clauses(docs, rule.citation), rule.citation
    assert "晚上九点钟以前必须关闭大门" in find_clauses(docs, gate.citation)[0].text


BAD_SEEDS = """\
[group.managers]
roles = ["manager"]

[group.nobody]
name = "空组"

[[reminder]]
key = "gate-close"
when = "每天 20:45"
who = "on_duty"
text = "关门"
rule = "《更夫守则》十、"

[[reminder]]
key = "gate-close"
when = "明天 09:00"
who = "role:门房"
text = "x"
rule = "《更夫守则》九十九、"

[[reminder]]
key = "Bad Key"
when = "每周八 9点"
who = "group:nope"
text = ""
rule = "《不存在的制度》一、"
colour = "red"

[[reminder]]
key = "with-text"
when = "每天 20:45 关大门"
who = "保安"
text = "关门"
rule = "《更夫守则》十、"

[[reminder]]
key = "no-rule"
when = "每天 8点"
who = "on_duty"
text = "x"
"""


def test_every_problem_of_a_broken_file_is_reported_with_its_line() -> None:
    docs = load_corpus(SEEDS / "regulations")
    seeds, problems = parse_seeds(BAD_SEEDS, "reminders.toml", tz=SH, now=datetime.now(UTC),
                                  find_citation=lambda ref: bool(find_clauses(docs, ref)))
    assert seeds is None
    got = [(p.line, p.message) for p in problems]

    def at(line: int, *words: str) -> None:
        assert any(n == line and all(w in m for w in words) for n, m in got), (line, words, got)

    at(4, "nobody", "没有成员")
    at(15, "重复")
    at(16, "只提醒一次")
    at(17, "门房")
    at(19, "九十九")
    at(22, "Bad Key")
    at(23, "每周八")
    at(24, "nope")
    at(25, "text")
    at(26, "不存在的制度")
    at(27, "colour")
    at(31, "关大门", "text")
    at(36, "缺少 rule")
    assert all(p.file == "reminders.toml" for p in problems)


def test_toml_syntax_errors_are_reported() -> None:
    _, problems = parse_seeds('[[reminder]]\nkey = "a\n', "r.toml", tz=SH, now=datetime.now(UTC))
    assert len(problems) == 1 and problems[0].line == 2 and "写法不对" in problems[0].message


def test_seeds_check_reports_a_citation_that_matches_nothing(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    path = seeds / reminder_seeds.FILE_NAME
    path.write_text(path.read_text(encoding="utf-8").replace("《更夫守则》十、", "《更夫守则》四十、"),
                    encoding="utf-8")
    problems = [p for p in check_seeds(seeds) if p.file.endswith(reminder_seeds.FILE_NAME)]
    assert len(problems) == 1 and "四十" in problems[0].message and problems[0].line > 0


def test_rules_load_and_reload_by_key(app: App, clock: Clock, tmp_path: Path) -> None:
    first = load(app)
    assert sorted(first.added) == ["gate-close", "guard-signoff", "innovation-summary", "process-check-report"]
    assert load(app) == LoadResult(unchanged=4)
    gate = reminder(app, rule_id(app, "gate-close"))
    assert gate.kind == "rule" and gate.audience == {"on_duty": True} and gate.citation == "《更夫守则》十、"
    assert gate.trigger == {"type": "cron", "day_of_week": None, "day": None, "hour": 20, "minute": 45,
                            "workdays": False}
    # The admin edits the file: one time changed, one removed, one paused, one added.
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    path = seeds / reminder_seeds.FILE_NAME
    raw = path.read_text(encoding="utf-8")
    raw = raw.replace('when = "每天 20:45"', 'when = "每天 20:40"')
    raw = raw.replace('key = "process-check-report"', 'key = "process-check-report"\nenabled = false')
    raw = raw.replace('key = "guard-signoff"', 'key = "guard-signoff-weekdays"')
    raw += '\n[[reminder]]\nkey = "no-lateness"\nwhen = "每周一三五 07:50"\nwho = "role:保安"\n' \
           'text = "不准迟到、早退。"\nrule = "《更夫守则》三、"\n'
    path.write_text(raw, encoding="utf-8")
    result = load_rules(app.services.sessions, seeds, SH, clock.now)
    assert sorted(result.added) == ["guard-signoff-weekdays", "no-lateness"]
    assert result.updated == ("gate-close",)
    assert sorted(result.deactivated) == ["guard-signoff", "process-check-report"]
    assert result.unchanged == 1
    assert reminder(app, rule_id(app, "gate-close")).trigger["minute"] == 40
    assert not reminder(app, rule_id(app, "guard-signoff")).active
    lateness = reminder(app, rule_id(app, "no-lateness"))
    assert lateness.trigger["day_of_week"] == "mon,wed,fri" and lateness.audience == {"role": "guard"}
    # A broken file changes nothing.
    path.write_text(raw.replace('when = "每天 20:40"', 'when = "每天 29:40"'), encoding="utf-8")
    with pytest.raises(SeedError):
        load_rules(app.services.sessions, seeds, SH, clock.now)
    assert reminder(app, rule_id(app, "gate-close")).trigger["minute"] == 40


def test_cli_reload_and_list_with_next_run_times(app: App, staff: dict[str, int], clock: Clock) -> None:
    out = io.StringIO()
    assert cli(argparse.Namespace(reminders_command="reload"), app.settings, out=out, now=clock.now) == 0
    assert "新增 4 条" in out.getvalue()
    say(app, "u-李经理", "/remind 明天 09:00 提交月报")
    say(app, "u-李经理", "/remind 每周一 08:30 @保安 安全例会")
    out = io.StringIO()
    assert cli(argparse.Namespace(reminders_command="list"), app.settings, out=out, now=clock.now) == 0
    listing = out.getvalue()
    assert "生效的提醒 6 条" in listing
    lines = [line for line in listing.splitlines() if line.startswith("#")]
    # Soonest first, each with its next run (local time) computed from its trigger.
    assert [line.split("  下次 ")[1].split("  ")[0] for line in lines] == [
        "11月27日 19:30", "11月27日 20:45", "11月28日 09:00", "11月30日 08:30", "12月20日 09:00", "12月25日 09:00"]
    assert "[每天 20:45]  规章 gate-close  → 值班人员" in listing
    assert "临时，李经理 设  → 全体保安" in listing and "安全例会" in listing
    assert "（依据 《更夫守则》十、）" in listing
    assert list_lines(app.services.sessions, SEEDS, SH, clock.now) == listing.rstrip("\n").splitlines()


# ---------------------------------------------------------------------------------------------
# Firing


def test_fire_reaches_the_guards_on_duty_and_never_a_console_identity(
    app: App, staff: dict[str, int], channel: RecordingChannel
) -> None:
    load(app)
    evening = local(2026, 11, 27, 20, 0)
    on_shift(app, staff["guard"], evening)
    on_shift(app, staff["console_guard"], evening)
    on_shift(app, staff["guard2"], local(2026, 11, 27, 8, 0))  # the day shift, over by 20:45
    gate = rule_id(app, "gate-close")
    assert fire(app, gate, local(2026, 11, 27, 20, 45))
    assert told(channel) == ["张保安"]
    text = channel.sent[0][0].text
    assert text == "⏰ 提醒：21:00 前关闭大门。关好后请检查门锁。\n依据：《更夫守则》十、"
    assert queued(app, gate) == [staff["guard"]]


def test_fire_reaches_a_group_a_role_and_named_people(app: App, staff: dict[str, int],
                                                       channel: RecordingChannel) -> None:
    load(app)
    assert fire(app, rule_id(app, "guard-signoff"), local(2026, 11, 27, 19, 30))
    assert sorted(told(channel)) == ["周经理", "李经理"]  # group managers = role manager, console excluded
    channel.clear()
    guards = add_reminder(app, "今天 15:00", "巡逻", {"role": "guard"}, created_by=staff["mgr"])
    assert fire(app, guards, local(2026, 11, 27, 15, 0))
    assert sorted(told(channel)) == ["刘保安", "张保安"]
    assert channel.sent[0][0].text == "⏰ 提醒：巡逻\n（李经理 设的提醒）"
    channel.clear()
    mixed = add_reminder(app, "今天 16:00", "开会", {"role": "clerk", "person_ids": [staff["mgr"], staff["console_mgr"]]},
                         created_by=staff["mgr"])
    assert fire(app, mixed, local(2026, 11, 27, 16, 0))
    assert sorted(told(channel)) == ["李经理", "陈客服"]
    assert [out.text for out, _ in channel.sent if out.to == "chat-李经理"] == ["⏰ 提醒：开会"]  # own reminder


def test_a_firing_is_claimed_once(app: App, staff: dict[str, int], channel: RecordingChannel,
                                  caplog: pytest.LogCaptureFixture) -> None:
    load(app)
    signoff = rule_id(app, "guard-signoff")
    assert fire(app, signoff, local(2026, 11, 27, 19, 30))
    # The same firing again — a second scheduler, a late duplicate run: nothing more is sent.
    assert not fire(app, signoff, local(2026, 11, 27, 19, 31, 5))
    assert firings(app, signoff) == 1 and len(queued(app, signoff)) == 2 and len(channel.sent) == 2
    assert "claimed already" in caplog.text
    # The next day's firing is a new one.
    assert fire(app, signoff, local(2026, 11, 28, 19, 30))
    assert firings(app, signoff) == 2 and len(channel.sent) == 4


def test_a_one_off_reminder_fires_once_and_is_done(app: App, staff: dict[str, int],
                                                   channel: RecordingChannel) -> None:
    rid = add_reminder(app, "明天 09:00", "提交月报", {"person_ids": [staff["mgr"]]}, created_by=staff["mgr"])
    assert fire(app, rid, local(2026, 11, 28, 9, 0, 2))
    assert not reminder(app, rid).active
    assert not fire(app, rid, local(2026, 11, 28, 9, 0, 3))
    assert told(channel) == ["李经理"]


def test_nobody_to_tell_tells_the_admins(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    load(app)
    gate = rule_id(app, "gate-close")
    assert fire(app, gate, local(2026, 11, 27, 20, 45))  # no roster yet: nobody on duty
    assert told(channel) == ["孙管理"]
    assert channel.sent[0][0].text.startswith("⚠️ 定时提醒没有发出") and "值班人员" in channel.sent[0][0].text


def test_working_day_reminders_skip_days_off(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    rid = add_reminder(app, "工作日 17:30", "下班前检查门窗", {"person_ids": [staff["mgr"]]})
    assert not fire(app, rid, local(2026, 11, 28, 17, 30))  # Saturday
    assert firings(app, rid) == 0 and channel.sent == []
    assert fire(app, rid, local(2026, 11, 30, 17, 30))  # Monday
    assert told(channel) == ["李经理"]
    assert not fire(app, rid, local(2027, 1, 1, 17, 30))  # 元旦, counted into 2027: no exception


# ---------------------------------------------------------------------------------------------
# Chat: /remind, /reminders, /unremind


def test_remind_in_chat_then_fire(app: App, staff: dict[str, int], channel: RecordingChannel,
                                  clock: Clock) -> None:
    replies = say(app, "u-李经理", "/remind 明天 09:00 提交月报")
    text = reply_text(replies)
    with app.services.sessions() as session:
        row = session.scalars(select(Reminder)).one()
    assert text.startswith(f"已设提醒 #{row.id}：11月28日（周六）09:00，提醒您：提交月报")
    assert f"取消请发“取消提醒 {row.id}”" in text
    assert row.kind == "adhoc" and row.created_by == staff["mgr"] and row.schedule == "明天 09:00"
    assert row.audience == {"person_ids": [staff["mgr"]]}
    assert row.trigger == {"type": "date", "run_at": "2026-11-28T01:00:00+00:00"}
    channel.clear()
    clock.now = local(2026, 11, 28, 9, 0)
    assert fire(app, row.id, clock.now)
    assert [(out.to, out.text) for out, _ in channel.sent] == [("chat-李经理", "⏰ 提醒：提交月报")]


def test_remind_others_by_name_role_and_duty(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    text = reply_text(say(app, "u-李经理", "/remind 2026-12-01 09:00 @张保安 交接本签字"))
    assert "提醒 张保安：交接本签字" in text
    text = reply_text(say(app, "u-李经理", "提醒 每周一三五 8点 全体保安 巡查消防通道"))
    assert "每周一、三、五 08:00，提醒 全体保安：巡查消防通道" in text and "下次提醒：11月30日 08:00" in text
    text = reply_text(say(app, "u-李经理", "提醒 @值班 今晚8点 关好东门"))  # mention before the time
    assert "提醒 值班人员：关好东门" in text
    text = reply_text(say(app, "u-李经理", "/remind 明天9点 @陈客服回访王女士"))  # no space after the name
    assert "提醒 陈客服：回访王女士" in text
    text = reply_text(say(app, "u-李经理", "/remind 后天 9点 交排班表 @张保安 @刘保安"))  # mentions at the end
    assert "提醒 张保安、刘保安：交排班表" in text
    text = reply_text(say(app, "u-李经理", "/remind 每月31号 9点 @managers 月底盘点"))
    assert "提醒 经理" in text and texts.TP_NOTE_MONTH_END.format(day=31) in text
    with app.services.sessions() as session:
        audiences = [r.audience for r in session.scalars(select(Reminder).order_by(Reminder.id))]
    assert audiences == [{"person_ids": [staff["guard"]]}, {"role": "guard"}, {"on_duty": True},
                         {"person_ids": [staff["clerk"]]}, {"person_ids": [staff["guard"], staff["guard2"]]},
                         {"group": "managers"}]
    assert "没有找到同事“王五”" in reply_text(say(app, "u-李经理", "/remind 明天 9点 @王五 x"))
    assert "您是不是要找：张保安" in reply_text(say(app, "u-李经理", "/remind 明天 9点 @张 x"))
    with app.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 6


def test_everyone_may_remind_themselves_but_only_managers_others(app: App, staff: dict[str, int]) -> None:
    text = reply_text(say(app, "u-张保安", "提醒 半小时后 巡逻一圈"))
    assert "11月27日（周五）10:30，提醒您：巡逻一圈" in text
    assert reply_text(say(app, "u-张保安", "/remind 明天 9点 @李经理 交报表")) == texts.RM_ONLY_SELF
    assert reply_text(say(app, "u-陈客服", "/remind 明天 9点 全体保安 开会")) == texts.RM_ONLY_SELF
    assert "提醒您" in reply_text(say(app, "u-陈客服", "/remind 明天 9点 @陈客服 回访"))  # naming oneself is fine
    with app.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 2


def test_bad_remind_input_gets_a_clear_reply_and_stores_nothing(app: App, staff: dict[str, int]) -> None:
    assert reply_text(say(app, "u-李经理", "/remind")) == texts.RM_USAGE
    assert "没看懂提醒时间“下班后”" in reply_text(say(app, "u-李经理", "/remind 下班后 交报表"))
    assert reply_text(say(app, "u-李经理", "/remind 09:00 交报表")).startswith("这个时间已经过去了")
    assert "要提醒什么" in reply_text(say(app, "u-李经理", "/remind 明天 09:00"))
    assert "字以内" in reply_text(say(app, "u-李经理", "/remind 明天 09:00 " + "长" * 201))
    assert "“明天”要写几点" in reply_text(say(app, "u-李经理", "/remind 明天 交报表"))
    with app.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_reminders_lists_what_concerns_the_asker(app: App, staff: dict[str, int], clock: Clock) -> None:
    load(app)
    say(app, "u-李经理", "/remind 明天 09:00 @张保安 交接本签字")
    say(app, "u-李经理", "/remind 明天 10:00 提交月报")
    say(app, "u-张保安", "/remind 半小时后 巡逻")
    guard = reply_text(say(app, "u-张保安", "/reminders"))
    lines = guard.splitlines()
    assert lines[0] == "和您有关的提醒（3 条）："
    assert "11月27日 10:30" in lines[1] and "巡逻（我设的）" in lines[1] and "→您" in lines[1]
    assert "11月27日 20:45" in lines[2] and "每天 20:45" in lines[2] and "（规章 《更夫守则》十、）" in lines[2]
    assert "11月28日 09:00" in lines[3] and "（李经理 设）" in lines[3]
    assert "提交月报" not in guard and "考核签认" not in guard
    manager = reply_text(say(app, "u-李经理", "我的提醒"))
    assert "提交月报（我设的）" in manager and "考核签认" in manager and "交接本签字" in manager
    assert "巡逻（我设的）" not in manager and "21:00 前关闭大门" not in manager
    everything = reply_text(say(app, "u-李经理", "提醒列表 全部"))
    assert everything.startswith("全部提醒（7 条）") and "巡逻" in everything
    assert reply_text(say(app, "u-陈客服", "/reminders")) == texts.RM_LIST_NONE
    assert reply_text(say(app, "u-陈客服", "/reminders 全部")) == texts.RM_LIST_NONE  # not a manager


def test_unremind_permissions(app: App, staff: dict[str, int]) -> None:
    load(app)
    say(app, "u-李经理", "/remind 明天 09:00 提交月报")
    say(app, "u-李经理", "/remind 明天 10:00 @张保安 签字")
    with app.services.sessions() as session:
        first, second = session.scalars(select(Reminder.id).where(Reminder.kind == "adhoc").order_by(Reminder.id))
    gate = rule_id(app, "gate-close")
    assert reply_text(say(app, "u-周经理", f"/unremind {first}")) == texts.RM_UNREMIND_NOT_FOUND.format(id=first)
    assert reply_text(say(app, "u-张保安", f"取消提醒 {second}")) == texts.RM_UNREMIND_NOT_FOUND.format(id=second)
    assert reply_text(say(app, "u-李经理", f"取消提醒 {gate}")) == texts.RM_UNREMIND_RULE.format(id=gate)
    assert reply_text(say(app, "u-李经理", "取消提醒")) == texts.RM_UNREMIND_USAGE
    assert reply_text(say(app, "u-李经理", "取消提醒 999")) == texts.RM_UNREMIND_NOT_FOUND.format(id=999)
    assert reply_text(say(app, "u-李经理", f"取消提醒 #{first}")).startswith(f"提醒 #{first} 已取消")
    assert reply_text(say(app, "u-李经理", f"/unremind {first}")) == texts.RM_UNREMIND_ALREADY.format(id=first)
    assert reply_text(say(app, "u-孙管理", f"/unremind {second}")).startswith(f"提醒 #{second} 已取消")  # admin
    assert not reminder(app, first).active and not reminder(app, second).active
    assert reminder(app, gate).active
    assert not fire_at(app, first, local(2026, 11, 28, 9, 0))


# ---------------------------------------------------------------------------------------------
# The scheduler: jobs follow the table; a restart fires a missed reminder once, or skips it


def run_scheduler(app: App, body, *, paused: bool, grace: int) -> None:  # type: ignore[no-untyped-def]
    """What the elected scheduler does (start_jobs, resume), with the reminders' grace window set."""

    async def main() -> None:
        scheduler = build_scheduler(app)
        scheduler.start(paused=True)
        start_jobs(scheduler)
        reminders.register(scheduler, grace_seconds=grace)
        if not paused:
            scheduler.resume()
        try:
            await body(scheduler)
        finally:
            stop(scheduler)
            await asyncio.sleep(0)

    asyncio.run(main())


def test_sync_makes_the_jobs_follow_the_table(app: App, staff: dict[str, int], clock: Clock) -> None:
    load(app)
    rid = add_reminder(app, "明天 09:00", "提交月报", {"person_ids": [staff["mgr"]]})
    weekly = add_reminder(app, "每周一 08:30", "安全例会", {"role": "guard"})
    gate = rule_id(app, "gate-close")

    async def first(scheduler) -> None:  # type: ignore[no-untyped-def]
        assert sync_jobs(app, scheduler, grace_seconds=120) == 6
        assert sync_jobs(app, scheduler, grace_seconds=120) == 0  # nothing to do the second time

    run_scheduler(app, first, paused=True, grace=120)
    jobs = stored_jobs(app)
    with app.services.sessions() as session:
        ids = session.scalars(select(Reminder.id)).all()
    assert {j for j in jobs if j.startswith(JOB_PREFIX)} == {job_id(r) for r in ids} and len(ids) == 6
    state = jobs[job_id(gate)]
    assert state["func"] == FIRE_REF and state["args"] == (gate,) and state["misfire_grace_time"] == 120
    assert state["coalesce"] is True
    assert "day_of_week" not in str(state["trigger"]) and "hour='20', minute='45'" in str(state["trigger"])
    assert jobs[job_id(rid)]["next_run_time"] == local(2026, 11, 28, 9, 0)
    assert "day_of_week='mon'" in str(jobs[job_id(weekly)]["trigger"])
    monday = jobs[job_id(weekly)]["next_run_time"].astimezone(SH)  # APScheduler counts from the wall clock
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 8, 30)
    # Cancel one, change another: the next sync removes and replaces; the others keep their run time.
    with app.services.sessions.begin() as session:
        session.get(Reminder, rid).active = False
        row = session.get(Reminder, weekly)
        row.trigger = {**row.trigger, "day_of_week": "wed"}
    kept = jobs[job_id(gate)]["next_run_time"]

    async def second(scheduler) -> None:  # type: ignore[no-untyped-def]
        assert sync_jobs(app, scheduler, grace_seconds=120) == 2

    run_scheduler(app, second, paused=True, grace=120)
    jobs = stored_jobs(app)
    assert job_id(rid) not in jobs
    wednesday = jobs[job_id(weekly)]["next_run_time"].astimezone(SH)
    assert (wednesday.weekday(), wednesday.hour, wednesday.minute) == (2, 8, 30)
    assert jobs[job_id(gate)]["next_run_time"] == kept


def test_a_chat_reminder_gets_its_job_at_once(app: App, staff: dict[str, int]) -> None:
    async def body(scheduler) -> None:  # type: ignore[no-untyped-def]
        await asyncio.to_thread(say, app, "u-李经理", "/remind 明天 09:00 提交月报")
        with app.services.sessions() as session:
            rid = session.scalar(select(Reminder.id).where(Reminder.kind == "adhoc"))
        assert scheduler.get_job(job_id(rid)) is not None
        await asyncio.to_thread(say, app, "u-李经理", f"/unremind {rid}")
        assert scheduler.get_job(job_id(rid)) is None

    run_scheduler(app, body, paused=True, grace=60)


def wall_reminder(app: App, person_id: int, seconds: float) -> int:
    """A one-off reminder at the wall clock + `seconds` (APScheduler reads the wall clock)."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)
    with app.services.sessions.begin() as session:
        row = Reminder(kind="adhoc", created_by=person_id, audience={"person_ids": [person_id]}, text="关好东门",
                       schedule="test", trigger=to_dict(Once(at)), active=True)
        session.add(row)
        session.flush()
        return row.id


def store_jobs(app: App, grace: int) -> None:
    """The process before the restart: stored the reminders' jobs, then stopped."""

    async def body(scheduler) -> None:  # type: ignore[no-untyped-def]
        sync_jobs(app, scheduler, grace_seconds=grace, now=datetime.now(UTC))

    run_scheduler(app, body, paused=True, grace=grace)


def restarted(app: App, channel: RecordingChannel) -> App:
    """A new process on the same database, reading the wall clock like a real one."""
    return build_app(app.settings, searcher=app.services.searcher, senders={"test": channel},
                     clock=system_clock, migrate=False)


def test_restart_fires_a_reminder_missed_within_the_grace_window_once(
    app: App, staff: dict[str, int], channel: RecordingChannel
) -> None:
    rid = wall_reminder(app, staff["guard"], -2)  # came due while the bot was down, 1–2 s ago
    store_jobs(app, grace=30)
    assert job_id(rid) in stored_jobs(app)
    again = restarted(app, channel)
    try:
        async def body(_scheduler) -> None:  # type: ignore[no-untyped-def]
            await until(lambda: told(channel) == ["张保安"])
            await asyncio.sleep(0.3)  # room for a duplicate to show up

        run_scheduler(again, body, paused=False, grace=30)
        # And once more: nothing is left to fire.
        run_scheduler(again, lambda _s: asyncio.sleep(0.2), paused=False, grace=30)
    finally:
        again.engine.dispose()
    assert told(channel) == ["张保安"] and channel.sent[0][0].text == "⏰ 提醒：关好东门"
    assert firings(app, rid) == 1 and queued(app, rid) == [staff["guard"]]
    assert not reminder(app, rid).active and job_id(rid) not in stored_jobs(app)


def test_restart_skips_and_logs_a_reminder_missed_by_more_than_the_grace_window(
    app: App, staff: dict[str, int], channel: RecordingChannel, caplog: pytest.LogCaptureFixture
) -> None:
    rid = wall_reminder(app, staff["guard"], -0.5)  # due within the next second
    store_jobs(app, grace=1)
    run_at = reminder(app, rid).trigger["run_at"]
    time.sleep(max(0.0, (datetime.fromisoformat(run_at) - datetime.now(UTC)).total_seconds()) + 1.3)
    again = restarted(app, channel)
    try:
        with caplog.at_level(logging.WARNING, logger="jobs.reminders"):
            async def body(_scheduler) -> None:  # type: ignore[no-untyped-def]
                await until(lambda: not reminder(app, rid).active)
                await asyncio.sleep(0.2)  # let the clean-up job finish before the scheduler stops

            run_scheduler(again, body, paused=False, grace=1)
    finally:
        again.engine.dispose()
    assert channel.sent == [] and firings(app, rid) == 0 and queued(app, rid) == []
    logged = [r.getMessage() for r in caplog.records if r.name == "jobs.reminders"]
    assert any("missed" in m and ("skipped" in m or "deactivated" in m) for m in logged), logged


def test_job_functions_need_the_running_app() -> None:
    from jobs import runtime

    runtime.uninstall()
    with pytest.raises(runtime.NotRunning):
        reminders.fire(1)
    with pytest.raises(runtime.NotRunning):
        reminders.sync()


def test_inactive_people_are_not_reminded(app: App, staff: dict[str, int]) -> None:
    with app.services.sessions.begin() as session:
        session.get(Person, staff["guard2"]).active = False
    with app.services.sessions() as session:
        people = reminder_audience.recipients(session, {"role": "guard"}, local(2026, 11, 27, 12, 0), {})
    assert [p.name for p in people] == ["张保安"]
