"""Staff service functions and the `dutybot staff` command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import staff
from bot.core import records
from bot.settings import Settings
from bot.storage.db import make_engine, session_factory, upgrade
from bot.storage.models import Account, Invite, Person, Record

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
CODE_IN_OUTPUT = re.compile(r"/start ([0-9A-Z]{5}-[0-9A-Z]{5})")


@pytest.fixture()
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- service functions ---------------------------------------------------------------------------


def test_add_person_with_both_channels_is_one_identity(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        person = staff.add_person(session, name=" 张三 ", role="guard", now=NOW, telegram_id=123456,
                                  wecom_userid="zhangsan")
        pid = person.id
    with sessions() as session:
        person = session.get(Person, pid)
        assert person is not None
        assert (person.name, person.role, person.level, person.active) == ("张三", "guard", None, True)
        accounts = sorted((a.channel, a.external_id, a.chat_id) for a in person.accounts)
    assert accounts == [("telegram", "123456", "123456"), ("wecom", "zhangsan", "zhangsan")]


def test_an_account_bound_to_someone_else_stores_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        staff.add_person(session, name="张三", role="guard", now=NOW, telegram_id=111)
    with pytest.raises(staff.StaffError, match=r"Telegram.*111.*张三"), sessions.begin() as session:
        # the WeCom account is new, the Telegram one is taken: neither the person nor WeCom is stored
        staff.add_person(session, name="李四", role="guard", now=NOW, wecom_userid="lisi", telegram_id=111)
    assert _count(sessions, Person) == 1
    assert _count(sessions, Account) == 1


def test_roles_are_checked_and_chinese_names_accepted(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(staff.StaffError) as err, sessions.begin() as session:
        staff.add_person(session, name="张三", role="boss", now=NOW)
    for role in ("guard", "clerk", "manager", "admin"):
        assert role in str(err.value)
    assert staff.parse_role("保安") == "guard"
    assert staff.parse_role("Manager") == "manager"
    assert staff.parse_role("管理员") == "admin"
    assert _count(sessions, Person) == 0


def test_level_only_for_those_who_can_acknowledge(sessions: sessionmaker[Session]) -> None:
    for role in ("guard", "clerk"):
        with pytest.raises(staff.StaffError, match="manager"), sessions.begin() as session:
            staff.add_person(session, name="张三", role=role, now=NOW, level=1)
    with pytest.raises(staff.StaffError, match="1 到"), sessions.begin() as session:
        staff.add_person(session, name="王经理", role="manager", now=NOW, level=0)
    with sessions.begin() as session:
        manager = staff.add_person(session, name="王经理", role="manager", now=NOW, level=2)
        boss = staff.add_person(session, name="赵总", role="admin", now=NOW, level=3)
    assert (manager.level, boss.level) == (2, 3)
    assert _count(sessions, Person) == 2


def test_names_are_checked(sessions: sessionmaker[Session]) -> None:
    for bad in ("", "   ", "12345", "长" * 65):
        with pytest.raises(staff.StaffError), sessions.begin() as session:
            staff.add_person(session, name=bad, role="guard", now=NOW)
    assert _count(sessions, Person) == 0


def test_deactivate_keeps_everything_and_asks_for_an_id_when_ambiguous(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        first = staff.add_person(session, name="张三", role="guard", now=NOW, telegram_id=1)
        second = staff.add_person(session, name="张三", role="clerk", now=NOW, telegram_id=2)
        record = records.create(session, kind="incident", author=first, content="东门有人翻墙", now=NOW,
                                local_now=NOW)
        ids, number = (first.id, second.id), record.number
    with pytest.raises(staff.StaffError) as err, sessions.begin() as session:
        staff.deactivate(session, "张三")
    assert f"{ids[0]}  张三" in str(err.value) and f"{ids[1]}  张三" in str(err.value)
    with sessions.begin() as session:
        person, changed = staff.deactivate(session, str(ids[0]))
        assert changed and not person.active
    with sessions.begin() as session:
        assert staff.deactivate(session, str(ids[0]))[1] is False  # already off: nothing changes
    with sessions() as session:
        kept = session.scalars(select(Record).where(Record.number == number)).one()
        assert kept.author.name == "张三" and kept.author.id == ids[0]
        assert session.get(Person, ids[1]).active  # type: ignore[union-attr]
    assert _count(sessions, Account) == 2
    with sessions.begin() as session:
        assert staff.activate(session, str(ids[0]))[0].active


def test_codes_are_random_readable_and_normalized() -> None:
    codes = {staff.new_code() for _ in range(300)}
    assert len(codes) == 300
    for code in codes:
        assert len(code) == 10
        assert not set(code) & set("01OIL")
        assert set(code) <= set(staff.CODE_ALPHABET)
    code = "ABCDE23456"
    for typed in ("abcde23456", "ABCDE-23456", " abcde 234 56 ", "ＡＢＣＤＥ－２３４５６"):
        assert staff.normalize_code(typed) == code
        assert staff.hash_code(typed) == staff.hash_code(code)
    assert staff.display_code(code) == "ABCDE-23456"


def test_invites_store_only_the_hash_and_expire(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        made = staff.create_invite(session, now=NOW, role="guard", name="张三")
        code = made.code
    with sessions() as session:
        invite = session.scalars(select(Invite)).one()
        stored = [str(getattr(invite, c.key)) for c in Invite.__table__.columns]
        assert not any(code in value for value in stored)
        assert invite.code_hash == staff.hash_code(code)
        assert invite.expires_at == NOW + timedelta(hours=72)
        assert (invite.role, invite.name, invite.person_id) == ("guard", "张三", None)
        assert staff.valid_invite(session, code.lower(), NOW + timedelta(hours=71)) is not None
        assert staff.valid_invite(session, code, NOW + timedelta(hours=72)) is None
        assert staff.valid_invite(session, "ABCDEFGHJK", NOW) is None


def test_bind_invites_need_one_active_real_person(sessions: sessionmaker[Session]) -> None:
    from bot.core.identity import console_identity

    with sessions.begin() as session:
        staff.add_person(session, name="张三", role="guard", now=NOW)
        staff.add_person(session, name="张三", role="clerk", now=NOW)
        gone = staff.add_person(session, name="李四", role="guard", now=NOW)
        gone.active = False
        console = console_identity(session, "guard").person
    for ref, message in (("张三", "请改用编号"), ("李四", "找不到"), ("王五", "找不到"),
                         (str(console.id), "控制台")):
        with pytest.raises(staff.StaffError, match=message), sessions.begin() as session:
            staff.create_invite(session, now=NOW, name=ref)
    with pytest.raises(staff.StaffError, match="--role"), sessions.begin() as session:
        staff.create_invite(session, now=NOW)
    with pytest.raises(staff.StaffError, match="小时"), sessions.begin() as session:
        staff.create_invite(session, now=NOW, role="guard", hours=0)
    assert _count(sessions, Invite) == 0


# --- the command line, in-process ----------------------------------------------------------------


Run = Callable[..., tuple[int, str, str]]
ESCALATION = """
[[level]]
level = 1
name = "值班班长"
wait_minutes = 15

[[level]]
level = 2
name = "保卫科"
wait_minutes = 30

[top]
repeat_minutes = 30

[complaint]
top_level = 1
"""


@pytest.fixture()
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:
    """`dutybot …` in-process, with settings from an environment this test controls entirely."""
    from bot.__main__ import main

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "escalation.toml").write_text(ESCALATION, encoding="utf-8")
    monkeypatch.setenv("SEEDS_DIR", str(seeds))

    def run_(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_


def test_cli_add_and_list(run: Run) -> None:
    assert run("staff", "list")[1].startswith("还没有登记任何人员")
    code, out, _ = run("staff", "add", "--name", "张三", "--role", "guard", "--telegram-id", "123")
    assert code == 0 and "已登记：张三（编号 1，保安）" in out and "Telegram 123" in out
    code, out, _ = run("staff", "add", "--name", "王经理", "--role", "manager", "--level", "1",
                       "--wecom-userid", "wangjl", "--telegram-id", "456")
    assert code == 0 and "上报级别：1（值班班长" in out  # the level's name from seeds/escalation.toml
    code, out, _ = run("staff", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["编号", "姓名", "角色", "级别", "渠道", "状态"]
    assert lines[2].split() == ["1", "张三", "保安", "-", "Telegram", "123", "在用"]
    assert "王经理" in lines[3] and "经理" in lines[3] and "企业微信 wangjl" in lines[3] and "Telegram 456" in lines[3]
    assert "共 2 人，在用 2 人。" in out
    code, out, _ = run("staff", "add", "--name", "钱总", "--role", "admin", "--level", "9")
    assert code == 0 and "没有第 9 级" in out


def test_cli_list_marks_console_identities(run: Run, db_url: str) -> None:
    from bot.core.identity import console_identity

    run("staff", "add", "--name", "张三", "--role", "guard")
    engine = make_engine(db_url)
    try:
        with session_factory(engine).begin() as session:
            console_identity(session, "manager")
    finally:
        engine.dispose()
    out = run("staff", "list")[1]
    assert "控制台经理 *" in out and "张三 *" not in out
    assert "* 控制台测试身份" in out


def test_cli_user_errors_exit_1_and_store_nothing(run: Run) -> None:
    assert run("staff", "add", "--name", "张三", "--role", "guard", "--telegram-id", "123")[0] == 0
    code, out, err = run("staff", "add", "--name", "李四", "--role", "guard", "--telegram-id", "123")
    assert code == 1 and out == "" and "已经绑定给 张三" in err
    code, _, err = run("staff", "add", "--name", "李四", "--role", "boss")
    assert code == 1 and "guard（保安）" in err and "admin（管理员）" in err
    code, _, err = run("staff", "add", "--name", "李四", "--role", "clerk", "--level", "1")
    assert code == 1 and "--level" in err
    code, _, err = run("staff", "deactivate", "王五")
    assert code == 1 and "找不到" in err
    assert "共 1 人" in run("staff", "list")[1]


def test_cli_deactivate_by_name_or_id(run: Run) -> None:
    run("staff", "add", "--name", "张三", "--role", "guard")
    run("staff", "add", "--name", "张三", "--role", "clerk")
    code, _, err = run("staff", "deactivate", "张三")
    assert code == 1 and "请改用编号" in err and "1  张三  保安" in err and "2  张三  客服" in err
    code, out, _ = run("staff", "deactivate", "2")
    assert code == 0 and "已停用：张三（编号 2，客服）" in out
    assert run("staff", "deactivate", "2")[1].startswith("张三（编号 2，客服）已经是停用状态")
    out = run("staff", "list")[1]
    assert "停用" in out.splitlines()[3] and "在用" in out.splitlines()[2]


def test_cli_invite_prints_the_code_once_with_instructions(run: Run, db_url: str) -> None:
    code, out, _ = run("staff", "invite", "--role", "guard", "--name", "张三")
    assert code == 0
    assert "请让对方给机器人发送：/start " in out and "72小时内有效" in out
    found = CODE_IN_OUTPUT.findall(out)
    assert found, out
    printed = found[0]
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            invite = session.scalars(select(Invite)).one()
            assert invite.code_hash == staff.hash_code(printed)
            now = invite.created_at + timedelta(minutes=5)
            result = staff.redeem(session, channel="telegram", external_id="777", chat_id="777",
                                  code=printed.lower(), now=now)
            assert result.outcome == "created"
            assert result.person is not None and result.person.name == "张三"
    finally:
        engine.dispose()
    code, out, _ = run("staff", "invite", "--name", "张三", "--hours", "24")
    assert code == 0 and "给 张三（编号 1，保安）绑定" in out and "24小时内有效" in out
    assert run("staff", "invite", "--role", "manager")[1].count("--level") == 1


# --- the command line, as a real process ---------------------------------------------------------


def test_cli_in_a_real_process(cli_env: dict[str, str], tmp_path: Path) -> None:
    def dutybot(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *argv], env=cli_env, cwd=tmp_path,
                              capture_output=True, text=True, encoding="utf-8", timeout=60)

    added = dutybot("staff", "add", "--name", "张三", "--role", "保安", "--wecom-userid", "zhangsan")
    assert added.returncode == 0, added.stderr
    assert "已登记：张三（编号 1，保安）" in added.stdout
    assert "alembic" not in added.stderr  # the admin sees our lines, not migration chatter
    listed = dutybot("staff", "list")
    assert listed.returncode == 0 and "企业微信 zhangsan" in listed.stdout
    bad = dutybot("staff", "add", "--name", "李四", "--role", "保洁")
    assert bad.returncode == 1 and "没有“保洁”这个角色" in bad.stderr
