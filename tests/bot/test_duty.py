"""签到, 平安 and 排班 through the real core and database (SQLite and PostgreSQL), and the
`dutybot roster` command line: CSV import all-or-nothing, the roster shown, console identities never."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import App
from bot.storage.models import Account, ShiftAssignment
from jobs import roster
from jobs.roster import import_roster
from jobs.shift_config import load_config
from tests.bot.test_escalation import add_person
from tests.conftest import SEEDS
from tests.support import Clock, RecordingChannel, say

SH = ZoneInfo("Asia/Shanghai")
GUARD = "张保安"


def at(clock: Clock, local: str) -> None:
    clock.now = datetime.fromisoformat(local).replace(tzinfo=SH).astimezone(UTC)


def tell(app: App, name: str, text: str) -> str:
    replies = say(app, f"u-{name}", text, chat=f"chat-{name}")
    return "\n".join(out.text for out in replies)


def add_namesake(app: App, name: str, tag: str) -> int:
    """A second person with the same name (their own account)."""
    with app.services.sessions.begin() as session:
        person = roster.Person(name=name, role="guard")
        session.add(person)
        session.flush()
        session.add(Account(person_id=person.id, channel="test", external_id=f"u-{name}-{tag}",
                            chat_id=f"chat-{name}-{tag}"))
        return person.id


def roster_rows(app: App) -> list[tuple[str, str, date]]:
    with app.services.sessions() as session:
        query = select(ShiftAssignment).order_by(ShiftAssignment.day, ShiftAssignment.id)
        rows = session.scalars(query).all()
        return [(r.person.name, r.shift, r.day) for r in rows]


@pytest.fixture()
def desk(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, GUARD, "guard"),
        "night": add_person(app, "刘更夫", "guard"),
        "clerk": add_person(app, "周客服", "clerk"),
        "l1": add_person(app, "李班长", "manager", 1),
        "console": add_person(app, "控制台保安", "guard", console=True),
    }


# --- 排班 in chat -------------------------------------------------------------------------------


def test_a_manager_assigns_and_everyone_sees_the_roster(
    app: App, desk: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    # 2026-11-27 10:00 (Friday) in Shanghai
    reply = tell(app, "李班长", "排班 明天 夜班 刘更夫")
    assert reply == "已排班：11月28日（周六）夜班（20:00–次日08:00）刘更夫。"
    assert "【排班】您被安排在 11月28日（周六）夜班（20:00–次日08:00）" in channel.texts_to("chat-刘更夫")[0]
    assert tell(app, "李班长", "/roster 今天 白班 张保安、周客服") == "已排班：11月27日（周五）白班（08:00–20:00）张保安、周客服。"
    assert tell(app, "李班长", "排班 夜班 明天 刘更夫") == "刘更夫 已经在 11月28日（周六）夜班，不用再排。"
    assert roster_rows(app) == [(GUARD, "day", date(2026, 11, 27)), ("周客服", "day", date(2026, 11, 27)),
                                ("刘更夫", "night", date(2026, 11, 28))]
    shown = tell(app, GUARD, "值班表")
    assert shown.splitlines() == [
        "值班表",
        "11月27日（周五）",
        "· 白班 08:00–20:00：张保安（未签到）、周客服（未签到）",
        "· 夜班 20:00–次日08:00：未排班",
        "11月28日（周六）",
        "· 白班 08:00–20:00：未排班",
        "· 夜班 20:00–次日08:00：刘更夫",
    ]
    tell(app, GUARD, "签到")
    assert "张保安（已签到，迟到120分钟）" in tell(app, "周客服", "/roster")
    assert "排班 删除" in tell(app, "李班长", "排班")  # managers see how to change it
    assert tell(app, "李班长", "排班 11-28").splitlines()[1:] == [
        "11月28日（周六）", "· 白班 08:00–20:00：未排班", "· 夜班 20:00–次日08:00：刘更夫",
        "排班：发“排班 明天 夜班 张三”；删除：发“排班 删除 明天 夜班 张三”。"]


def test_console_identities_never_appear_in_the_roster(
    app: App, desk: dict[str, int], clock: Clock
) -> None:
    # Not assignable by name …
    assert "没有找到“控制台保安”" in tell(app, "李班长", "排班 明天 白班 控制台保安")
    assert "没有找到" in tell(app, "李班长", f"排班 明天 白班 {desk['console']}")
    # … and, written straight to the table, still never shown.
    config = load_config(SEEDS)
    with app.services.sessions.begin() as session:
        console = session.get(roster.Person, desk["console"])
        guard = session.get(roster.Person, desk["guard"])
        assert console is not None and guard is not None
        day_shift = config.get("day")
        assert day_shift is not None
        roster.add_assignment(session, console, day_shift, date(2026, 11, 27), SH, clock.now)
        roster.add_assignment(session, guard, day_shift, date(2026, 11, 27), SH, clock.now)
    shown = tell(app, GUARD, "排班")
    assert "控制台" not in shown and GUARD in shown


def test_roster_mistakes_get_clear_replies_and_store_nothing(
    app: App, desk: dict[str, int], clock: Clock
) -> None:
    add_person(app, "王强", "guard")
    add_namesake(app, "王强", "2")
    assert "没有“晚班”这个班次。现有班次：白班、夜班。" in tell(app, "李班长", "排班 明天 晚班 张保安")
    assert "没看懂日期“13-45”" in tell(app, "李班长", "排班 13-45 夜班 张保安")
    assert "没看懂日期“大前天”" in tell(app, "李班长", "排班 夜班 大前天 张保安") or \
        "没看懂" in tell(app, "李班长", "排班 夜班 大前天 张保安")
    assert "请写上姓名" in tell(app, "李班长", "排班 明天 夜班")
    assert "没看懂。排班这样写" in tell(app, "李班长", "排班 张保安")
    reply = tell(app, "李班长", "排班 明天 夜班 张保安 赵六")
    assert "没有找到“赵六”" in reply
    reply = tell(app, "李班长", "排班 明天 夜班 王强")
    assert "有 2 个人叫“王强”" in reply and "请改写编号" in reply
    assert "是不是：张保安（编号" in tell(app, "李班长", "排班 明天 夜班 张保")
    assert "已经结束了" in tell(app, "李班长", "排班 昨天 白班 张保安")
    assert tell(app, GUARD, "排班 明天 夜班 张保安") == "只有经理可以排班。看值班表发“排班”。"
    assert roster_rows(app) == []
    # The number settles a clash of names.
    with app.services.sessions() as session:
        ids = session.scalars(select(roster.Person.id).where(roster.Person.name == "王强")).all()
    assert "已排班" in tell(app, "李班长", f"排班 2026-12-01 白班 {ids[1]}")
    assert roster_rows(app) == [("王强", "day", date(2026, 12, 1))]


def test_a_manager_removes_an_assignment_before_it_starts(
    app: App, desk: dict[str, int], channel: RecordingChannel, clock: Clock
) -> None:
    tell(app, "李班长", "排班 明天 夜班 刘更夫")
    tell(app, "李班长", "排班 今天 白班 张保安")
    channel.clear()
    assert tell(app, "李班长", "排班 删除 明天 夜班 张保安") == "11月28日（周六）夜班 没有排 张保安。"
    assert "已经开始或结束，不能删除" in tell(app, "李班长", "排班 删除 今天 白班 张保安")
    assert tell(app, "李班长", "排班 删除 明天 夜班 刘更夫") == "已删除排班：11月28日（周六）夜班 刘更夫。"
    assert "【排班取消】您11月28日（周六）的夜班（20:00–次日08:00）已取消。" in channel.texts_to("chat-刘更夫")
    assert roster_rows(app) == [(GUARD, "day", date(2026, 11, 27))]


# --- 签到 ----------------------------------------------------------------------------------------


def test_check_in_on_time_early_late_twice_and_without_a_shift(
    app: App, desk: dict[str, int], clock: Clock
) -> None:
    assert tell(app, GUARD, "签到") == "您现在没有要签到的班。今天和明天都没有给您排班。如有出入请联系班长。"
    tell(app, "李班长", "排班 明天 白班 张保安")
    tell(app, "李班长", "排班 明天 夜班 刘更夫")
    at(clock, "2026-11-28 07:00")
    reply = tell(app, GUARD, "/checkin")
    assert "您现在没有要签到的班。" in reply and "下一个班：11月28日（周六）白班（08:00–20:00），上班前 30 分钟内可以签到" in reply
    at(clock, "2026-11-28 07:35")
    assert tell(app, GUARD, "到岗") == "已签到：11月28日（周六）白班（08:00–20:00），签到时间 07:35。"
    assert tell(app, GUARD, "签到") == "您已经签到过了：白班（08:00–20:00），签到时间 07:35。"
    at(clock, "2026-11-28 20:07")
    reply = tell(app, "刘更夫", "签到")
    assert "已签到：11月28日（周六）夜班（20:00–次日08:00），签到时间 20:07。" in reply and "迟到 7 分钟，已记录。" in reply
    with app.services.sessions() as session:
        rows = {r.person.name: r for r in session.scalars(select(ShiftAssignment)).all()}
    assert rows[GUARD].checked_in_at == datetime(2026, 11, 27, 23, 35, tzinfo=UTC)
    assert rows["刘更夫"].checked_in_at == datetime(2026, 11, 28, 12, 7, tzinfo=UTC)


def test_ok_without_an_open_check(app: App, desk: dict[str, int]) -> None:
    assert "现在没有要回复的查岗" in tell(app, GUARD, "平安")
    assert "现在没有要回复的查岗" in tell(app, GUARD, "/ok")


# --- dutybot roster import / show ----------------------------------------------------------------


def cli(app: App, clock: Clock, *argv: str) -> tuple[int, str, str]:
    if argv[0] == "import":
        args = argparse.Namespace(roster_command="import", file=argv[1])
    else:
        args = argparse.Namespace(roster_command="show", day=argv[1] if len(argv) > 1 else None)
    out, err = io.StringIO(), io.StringIO()
    code = roster.cli(args, app.settings, out=out, err=err, now=clock.now)
    return code, out.getvalue(), err.getvalue()


def test_import_a_good_file_with_bom_and_duplicates(
    app: App, desk: dict[str, int], clock: Clock, tmp_path: Path
) -> None:
    tell(app, "李班长", "排班 2026-12-01 白班 张保安")
    good = tmp_path / "roster.csv"
    good.write_bytes("\ufeff日期,班次,姓名\r\n2026-12-01,白班,张保安\r\n2026-12-01,夜班,刘更夫\r\n"
                     "2026/12/02,day,周客服\r\n\r\n2026-12-02,白班,周客服\r\n".encode())
    code, out, err = cli(app, clock, "import", str(good))
    assert code == 0, err
    assert out.strip() == "已导入 2 条排班（2026-12-01 至 2026-12-02），跳过重复 2 条。"
    assert roster_rows(app) == [(GUARD, "day", date(2026, 12, 1)), ("刘更夫", "night", date(2026, 12, 1)),
                                ("周客服", "day", date(2026, 12, 2))]
    english = tmp_path / "en.csv"
    english.write_text("name,date,shift\n刘更夫,2026-12-03,night\n", encoding="utf-8")
    code, out, _ = cli(app, clock, "import", str(english))
    assert code == 0 and "已导入 1 条" in out
    code, out, _ = cli(app, clock, "show", "2026-12-01")
    assert out.splitlines() == ["12月1日（周二）", "· 白班 08:00–20:00：张保安", "· 夜班 20:00–次日08:00：刘更夫"]


def test_a_bad_file_reports_every_bad_line_and_imports_nothing(
    app: App, desk: dict[str, int], clock: Clock, tmp_path: Path
) -> None:
    add_person(app, "王强", "guard")
    add_namesake(app, "王强", "2")
    bad = tmp_path / "bad.csv"
    bad.write_text("日期,班次,姓名\n2026-12-01,白班,张保安\n2026-13-01,白班,张保安\n2026-12-01,晚班,刘更夫\n"
                   "2026-12-01,夜班,赵六\n2026-12-01,夜班,王强\n2026-12-02\n2026-12-02,白班,控制台保安\n",
                   encoding="utf-8")
    code, out, err = cli(app, clock, "import", str(bad))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "bad.csv 有 6 行不对，什么都没有导入。请改好后再导入："
    assert [line.split("：", 1)[0].strip() for line in lines[1:]] == [
        "第 3 行", "第 4 行", "第 5 行", "第 6 行", "第 7 行", "第 8 行"]
    assert "日期“2026-13-01”不对" in lines[1]
    assert "没有“晚班”这个班次" in lines[2]
    assert "没有叫“赵六”的在职人员" in lines[3]
    assert "有 2 个人叫“王强”" in lines[4]
    assert "只有 1 栏" in lines[5]
    assert "没有叫“控制台保安”" in lines[6]
    assert roster_rows(app) == []  # not even line 2


def test_bad_headers_encodings_and_missing_files(
    app: App, desk: dict[str, int], clock: Clock, tmp_path: Path
) -> None:
    config = load_config(SEEDS)
    with app.services.sessions.begin() as session:
        result = import_roster(session, "日期,姓名\n2026-12-01,张保安\n".encode(), config, SH, clock.now)
        assert result.problems == [(1, "第一行要是表头：日期,班次,姓名（或 date,shift,name），现在是“日期,姓名”。")]
        result = import_roster(session, "date,shift,name\n2026-12-01,day,张保安\n".encode("gbk"), config, SH,
                               clock.now)
        assert result.problems[0][0] == 2 and "UTF-8" in result.problems[0][1]
        assert import_roster(session, b"", config, SH, clock.now).problems[0][1].startswith("文件里没有排班")
    code, _, err = cli(app, clock, "import", str(tmp_path / "nothing.csv"))
    assert code == 1 and "找不到文件" in err
    code, _, err = cli(app, clock, "show", "下个月")
    assert code == 1 and "没看懂日期“下个月”" in err


def test_the_roster_command_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.bot.test_cli import run

    day = (datetime.now(SH) + timedelta(days=3)).date().isoformat()  # a subprocess reads the real clock
    assert run(["staff", "add", "--name", "张保安", "--role", "保安"], cli_env, cwd=tmp_path).returncode == 0
    good = tmp_path / "good.csv"
    good.write_text(f"日期,班次,姓名\n{day},夜班,张保安\n", encoding="utf-8-sig")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"日期,班次,姓名\n{day},夜班,李四\n", encoding="utf-8")
    done = run(["roster", "import", str(bad)], cli_env, cwd=tmp_path)
    assert done.returncode == 1 and "第 2 行：没有叫“李四”的在职人员" in done.stderr
    done = run(["roster", "import", str(good)], cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"已导入 1 条排班（{day} 至 {day}）" in done.stdout
    done = run(["roster", "show", day], cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "· 夜班 20:00–次日08:00：张保安" in done.stdout
