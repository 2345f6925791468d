"""逐级上报 against a real database (SQLite and PostgreSQL): who is told, when, and never twice."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.core import escalation, records
from bot.core.escalation import DEFAULT_CHAIN, check_escalation, load_chain, parse_chain
from bot.settings import Settings
from bot.storage.models import Account, OutboxMessage, Person, Record
from jobs import runtime
from jobs.escalation import run_due
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, deliver, say


def add_person(app: App, name: str, role: str = "manager", level: int | None = None, *,
               console: bool = False) -> int:
    """A person with an account on the test channel (chat "chat-NAME")."""
    with app.services.sessions.begin() as session:
        person = Person(name=name, role=role, level=level, is_console=console)
        session.add(person)
        session.flush()
        session.add(Account(person_id=person.id, channel="test", external_id=f"u-{name}",
                            chat_id=f"chat-{name}"))
        return person.id


def file(app: App, author_id: int, content: str = "东门有人翻墙", *, urgent: bool = False,
         kind: str = "incident", **fields: object) -> str:
    """File a record the way a handler does: create + start escalation in one transaction."""
    with runtime.system_ctx(app, app.services.clock()) as ctx:
        author = ctx.session.get(Person, author_id)
        assert author is not None
        ctx.person = author
        record = records.create(ctx.session, kind=kind, author=author, content=content, now=ctx.now,
                                local_now=ctx.local_now, urgent=urgent, **fields)
        escalation.start(ctx, record)
        number = record.number
    deliver(app)
    return number


def ack(app: App, number: str) -> None:
    with runtime.system_ctx(app, app.services.clock()) as ctx:
        record = records.find(ctx.session, number)
        assert record is not None
        record.status, record.acked_at = "acked", ctx.now
        escalation.acknowledged(ctx, record)


def tick(app: App) -> int:
    n = run_due(app)
    deliver(app)
    return n


def told(channel: RecordingChannel) -> list[str]:
    """Who was told, in order ("chat-NAME" → NAME)."""
    return [out.to.removeprefix("chat-") for out, _ in channel.sent]


def record_of(app: App, number: str) -> Record:
    with app.services.sessions() as session:
        record = records.find(session, number)
        assert record is not None
        return record


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, "张保安", "guard"),
        "l1": add_person(app, "李班长", "manager", 1),
        "l1b": add_person(app, "钱班长", "manager", 1),
        "l2": add_person(app, "王科长", "manager", 2),
        "l3": add_person(app, "赵经理", "manager", 3),
        # A console identity at level 1: local testing only, never told.
        "console": add_person(app, "控制台经理", "manager", 1, console=True),
    }


def test_normal_report_tells_level_one_only(app: App, staff: dict[str, int], channel: RecordingChannel,
                                            clock: Clock) -> None:
    number = file(app, staff["guard"], location="东门")
    assert sorted(told(channel)) == ["李班长", "钱班长"]
    out = channel.sent[0][0]
    assert number in out.text and "东门" in out.text and "东门有人翻墙" in out.text
    assert "张保安（保安）" in out.text and "11月27日 10:00" in out.text
    assert "15分钟内无人确认将上报保卫科" in out.text
    assert "紧急" not in out.text
    assert out.buttons[0].reply == f"/ack {number}"
    record = record_of(app, number)
    assert record.escalated_level == 1
    assert record.next_escalation_at == clock.now + timedelta(minutes=15)


def test_unacknowledged_record_climbs_level_by_level_then_repeats(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["guard"])
    channel.clear()
    clock.advance(minutes=14, seconds=59)
    assert tick(app) == 0 and channel.sent == []
    clock.advance(seconds=1)
    assert tick(app) == 1
    assert told(channel) == ["王科长"]
    text = channel.sent[0][0].text
    assert "（已逐级上报：班长未在15分钟内确认）" in text and number in text
    assert "30分钟内无人确认将上报项目部领导" in text
    channel.clear()
    assert tick(app) == 0  # the same moment again: nothing more
    clock.advance(minutes=30)
    tick(app)
    assert told(channel) == ["赵经理"]
    assert "保卫科未在30分钟内确认" in channel.sent[0][0].text
    channel.clear()
    # At the top: after its wait, the top is reminded at the repeat interval; lower levels never again.
    clock.advance(minutes=60)
    tick(app)
    clock.advance(minutes=30)
    tick(app)
    assert told(channel) == ["赵经理", "赵经理"]
    assert "第2次提醒" in channel.sent[0][0].text and "第3次提醒" in channel.sent[1][0].text
    assert record_of(app, number).next_escalation_at == clock.now + timedelta(minutes=30)


def test_acknowledgement_stops_escalation(app: App, staff: dict[str, int], channel: RecordingChannel,
                                          clock: Clock) -> None:
    number = file(app, staff["guard"])
    ack(app, number)
    channel.clear()
    clock.advance(hours=5)
    assert tick(app) == 0
    assert channel.sent == []
    assert record_of(app, number).next_escalation_at is None


def test_through_the_chat_a_report_climbs_until_a_manager_presses_ack(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    say(app, "u-张保安", "上报 东门有人翻墙", chat="chat-张保安")
    to_first = [out for out, _ in channel.sent if out.to == "chat-李班长"]
    assert len(to_first) == 1 and "15分钟内无人确认将上报保卫科" in to_first[0].text
    channel.clear()
    clock.advance(minutes=15)
    tick(app)
    [(out, _)] = channel.sent
    assert out.to == "chat-王科长"
    ack_button = out.buttons[0]
    assert ack_button.label == "收到"
    say(app, "u-王科长", ack_button.reply, chat="chat-王科长")  # what pressing the button sends
    channel.clear()
    clock.advance(hours=3)
    assert tick(app) == 0
    assert channel.sent == []


def test_record_taken_without_the_ack_hook_is_not_escalated(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["guard"])
    with app.services.sessions.begin() as session:
        session.execute(update(Record).where(Record.number == number).values(status="in_progress"))
    channel.clear()
    clock.advance(minutes=20)
    assert tick(app) == 0 and channel.sent == []
    assert record_of(app, number).next_escalation_at is None


def test_urgent_tells_every_level_at_once_then_repeats_at_the_top(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    number = file(app, staff["guard"], "仓库起火", urgent=True)
    assert sorted(told(channel)) == sorted(["李班长", "钱班长", "王科长", "赵经理"])
    assert all("🔴紧急" in out.text and "30分钟内无人确认将再次提醒" in out.text for out, _ in channel.sent)
    record = record_of(app, number)
    assert record.escalated_level == 3
    assert record.next_escalation_at == clock.now + timedelta(minutes=30)
    channel.clear()
    clock.advance(minutes=29)
    assert tick(app) == 0
    clock.advance(minutes=1)
    tick(app)
    clock.advance(minutes=30)
    tick(app)
    assert told(channel) == ["赵经理", "赵经理"]


def test_a_level_with_nobody_is_skipped(app: App, channel: RecordingChannel, clock: Clock) -> None:
    guard = add_person(app, "张保安", "guard")
    add_person(app, "李班长", "manager", 1)
    add_person(app, "退休科长", "manager", 2)
    add_person(app, "赵经理", "manager", 3)
    with app.services.sessions.begin() as session:
        session.execute(update(Person).where(Person.name == "退休科长").values(active=False))
    file(app, guard)
    assert told(channel) == ["李班长"]
    assert "15分钟内无人确认将上报项目部领导" in channel.sent[0][0].text
    channel.clear()
    clock.advance(minutes=15)
    tick(app)
    assert told(channel) == ["赵经理"]


def test_nobody_in_the_chain_tells_the_admins(app: App, channel: RecordingChannel, clock: Clock) -> None:
    guard = add_person(app, "张保安", "guard")
    add_person(app, "孙管理", "admin")
    add_person(app, "控制台管理员", "admin", console=True)
    number = file(app, guard)
    assert told(channel) == ["孙管理"]
    assert "逐级上报名单里没有人" in channel.sent[0][0].text and number in channel.sent[0][0].text
    channel.clear()
    clock.advance(minutes=30)
    tick(app)
    assert told(channel) == ["孙管理"]  # reminded, until someone acknowledges


def test_console_identities_are_never_told(app: App, channel: RecordingChannel, clock: Clock) -> None:
    guard = add_person(app, "张保安", "guard")
    for level in (1, 2, 3):
        add_person(app, f"控制台{level}", "manager", level, console=True)
    file(app, guard, urgent=True)
    clock.advance(hours=3)
    tick(app)
    assert not any(name.startswith("控制台") for name in told(channel))


def test_complaints_stay_at_their_top_level(app: App, staff: dict[str, int], channel: RecordingChannel,
                                            clock: Clock) -> None:
    clerk = add_person(app, "周客服", "clerk")
    number = file(app, clerk, "物业费多收", kind="complaint", customer="3栋王女士")
    assert sorted(told(channel)) == ["李班长", "钱班长"]
    out = channel.sent[0][0]
    assert number.startswith("TS-") and "3栋王女士" in out.text
    assert out.buttons[0].reply == f"/accept {number}"
    channel.clear()
    clock.advance(minutes=15)
    tick(app)
    assert sorted(told(channel)) == ["李班长", "钱班长"]
    assert "第2次提醒" in channel.sent[0][0].text


def test_a_rerun_step_never_notifies_twice(app: App, staff: dict[str, int], channel: RecordingChannel,
                                           clock: Clock) -> None:
    number = file(app, staff["guard"])
    clock.advance(minutes=15)
    tick(app)
    # Pretend the step's bookkeeping was lost (a crash after the notification was queued): the same
    # step runs again, and the dedupe keys keep the notification single.
    with app.services.sessions.begin() as session:
        session.execute(update(Record).where(Record.number == number)
                        .values(escalated_level=1, next_escalation_at=clock.now))
    tick(app)
    assert told(channel).count("王科长") == 1


def _second_app(app: App, channel: RecordingChannel, clock: Clock) -> App:
    return build_app(app.settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                     migrate=False)


def test_a_locked_record_is_skipped_by_another_process(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("row claims are PostgreSQL's; SQLite serialises writers")
    number = file(app, staff["guard"])
    clock.advance(minutes=15)
    other = _second_app(app, channel, clock)
    try:
        with other.services.sessions.begin() as session:
            session.scalar(select(Record.id).where(Record.number == number).with_for_update())
            assert run_due(app) == 0  # the other process holds the row: skipped, not blocked
        assert run_due(app) == 1
        assert run_due(other) == 0
    finally:
        other.engine.dispose()


def test_two_processes_ticking_at_once_notify_once(
    app: App, staff: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    numbers = [file(app, staff["guard"], f"第{i}件事") for i in range(5)]
    channel.clear()
    clock.advance(minutes=15)
    other = _second_app(app, channel, clock)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run(which: App) -> None:
        barrier.wait()
        results.append(run_due(which))

    try:
        threads = [threading.Thread(target=run, args=(a,)) for a in (app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        other.engine.dispose()
    assert sum(results) == len(numbers)
    deliver(app)
    assert told(channel) == ["王科长"] * len(numbers)
    with app.services.sessions() as session:
        level_two = OutboxMessage.dedupe_key.like("esc:%:2:%")
        keys = session.scalars(select(OutboxMessage.dedupe_key).where(level_two))
        assert len(list(keys)) == len(numbers)


# --- The chain file -------------------------------------------------------------------------------


def test_the_shipped_chain_is_valid() -> None:
    assert check_escalation(SEEDS / "escalation.toml") == []
    chain = load_chain(SEEDS / "escalation.toml")
    assert [(lv.number, lv.name, lv.wait_minutes) for lv in chain.levels] == [
        (1, "班长", 15), (2, "保卫科", 30), (3, "项目部领导", 60)]
    assert chain.repeat_minutes == 30 and chain.top_for("complaint") == 1 and chain.top_for("incident") == 3


BAD = """\
[[level]]
level = 1
name = "班长"
wait_minutes = 0

[[level]]
level = 3
name = "保卫科"
wait_minutes = 30
colour = "red"

[top]
repeat_minutes = "半小时"

[complaint]
top_level = 7
"""


def test_mistakes_are_reported_with_line_numbers_in_chinese() -> None:
    chain, problems = parse_chain(BAD, "escalation.toml")
    assert chain is None
    by_line = {p.line: p.message for p in problems}
    assert set(by_line) == {4, 7, 10, 13, 16}
    assert "wait_minutes" in by_line[4] and "整数分钟" in by_line[4]
    assert "level = 2" in by_line[7]
    assert "不认识的设置“colour”" in by_line[10]
    assert "半小时" in by_line[13]
    assert "top_level" in by_line[16]
    assert all(p.file == "escalation.toml" and "第" not in p.message[:3] for p in problems)


def test_syntax_errors_and_missing_parts(tmp_path: Path) -> None:
    _, problems = parse_chain('[[level]]\nlevel = 1\nname = 班长\n', "f")
    assert [p.line for p in problems] == [3]
    _, problems = parse_chain("", "f")
    assert len(problems) == 3 and {p.line for p in problems} == {0}
    assert check_escalation(tmp_path / "escalation.toml")[0].message.startswith("找不到")
    (tmp_path / "escalation.toml").write_bytes("[top]\nrepeat_minutes = 30\n# \xff\n".encode("latin-1"))
    assert check_escalation(tmp_path / "escalation.toml")[0].line == 3


def test_seeds_check_includes_the_chain(tmp_path: Path) -> None:
    from bot.core.escalation import FILE_NAME

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / FILE_NAME).write_text(BAD, encoding="utf-8")
    problems = check_escalation(seeds / FILE_NAME)
    pytest.importorskip("retrieval.corpus")
    from bot.seedcheck import check_seeds

    assert set(problems) <= set(check_seeds(seeds))


def _app_with_seeds(app: App, seeds: Path, channel: RecordingChannel, clock: Clock) -> App:
    settings = Settings.explicit(seeds_dir=seeds, data_dir=app.settings.data_dir,
                                 database_url=app.settings.db_url)
    return build_app(settings, searcher=app.services.searcher, senders={"test": channel}, clock=clock,
                     migrate=False)


def test_an_edited_chain_applies_without_restart_and_a_broken_one_keeps_the_last_good(
    app: App, channel: RecordingChannel, clock: Clock, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    path = seeds / "escalation.toml"
    path.write_text((SEEDS / "escalation.toml").read_text(encoding="utf-8").replace(
        "wait_minutes = 15", "wait_minutes = 5"), encoding="utf-8")
    local = _app_with_seeds(app, seeds, channel, clock)
    try:
        guard = add_person(local, "张保安", "guard")
        add_person(local, "李班长", "manager", 1)
        add_person(local, "王科长", "manager", 2)
        number = file(local, guard)
        assert "5分钟内无人确认将上报保卫科" in channel.sent[0][0].text
        assert record_of(local, number).next_escalation_at == clock.now + timedelta(minutes=5)
        path.write_text("[[level]\n", encoding="utf-8")  # broken: the last good chain stays in force
        file(local, guard)
        assert "5分钟内无人确认" in channel.sent[-1][0].text
    finally:
        local.engine.dispose()


def test_without_a_chain_file_the_default_chain_applies(
    app: App, channel: RecordingChannel, clock: Clock, tmp_path: Path
) -> None:
    local = _app_with_seeds(app, tmp_path, channel, clock)
    try:
        guard = add_person(local, "张保安", "guard")
        add_person(local, "李班长", "manager", 1)
        number = file(local, guard)
        assert told(channel) == ["李班长"]
        wait = DEFAULT_CHAIN.levels[0].wait_minutes
        assert record_of(local, number).next_escalation_at == clock.now + timedelta(minutes=wait)
    finally:
        local.engine.dispose()
