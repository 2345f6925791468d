"""Staff: people, their roles and channel accounts, invite codes, and the `dutybot staff` commands.

Service functions take a session and the time and raise `StaffError` (a Chinese sentence for the
admin) on bad input before anything is stored. `redeem` is what `/start CODE` in chat runs; the
`cli` function is what `dutybot staff …` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import secrets
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.core.identity import ROLE_NAMES
from bot.storage.models import ROLES, Account, Invite, LoginAttempt, Person

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

# Codes are read aloud over the phone: no 0/O, 1/I/L look-alikes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
DEFAULT_INVITE_HOURS = 72
MAX_INVITE_HOURS = 24 * 30
# Guessing codes: this many wrong ones from one account within the window → refused unchecked.
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(minutes=15)
# Login attempts older than this are pruned when the same account tries again.
ATTEMPT_RETENTION = timedelta(days=1)
MAX_LEVEL = 20
# Who may stand on the escalation chain: those who can acknowledge a record.
LEVEL_ROLES = ("manager", "admin")
NAME_MAX = 64

TELEGRAM = "telegram"
WECOM = "wecom"
CONSOLE = "console"

# What an admin may type for a role, besides the role's own name.
ROLE_ALIASES = {
    "保安": "guard",
    "更夫": "guard",
    "客服": "clerk",
    "运营": "clerk",
    "经理": "manager",
    "主管": "manager",
    "管理员": "admin",
}


class StaffError(Exception):
    """A user error; the message is a Chinese sentence for the admin. Nothing was stored."""


# --- roles, names, accounts ----------------------------------------------------------------------


def roles_help() -> str:
    return "、".join(f"{role}（{ROLE_NAMES[role]}）" for role in ROLES)


def parse_role(text: str) -> str:
    value = text.strip()
    role = ROLE_ALIASES.get(value, value.lower())
    if role not in ROLES:
        raise StaffError(f"没有“{value}”这个角色。可用的角色：{roles_help()}。")
    return role


def clean_name(text: str) -> str:
    name = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise StaffError("请填写姓名，例如 --name 张三。")
    if len(name) > NAME_MAX:
        raise StaffError(f"姓名太长了（{len(name)} 字），最多 {NAME_MAX} 字。")
    if name.isdigit():
        raise StaffError("姓名不能全是数字（会和人员编号混淆）。")
    return name


def channel_label(channel: str) -> str:
    from bot.core import texts

    return texts.CHANNEL_NAMES.get(channel, channel)


def role_label(role: str) -> str:
    return ROLE_NAMES.get(role, role)


def describe(person: Person) -> str:
    return f"{person.name}（编号 {person.id}，{role_label(person.role)}）"


def _owner_of(session: Session, channel: str, external_id: str) -> Person | None:
    account = session.scalar(
        select(Account).where(Account.channel == channel, Account.external_id == external_id)
    )
    return account.person if account is not None else None


def _check_level(role: str, level: int | None) -> None:
    if level is None:
        return
    if role not in LEVEL_ROLES:
        raise StaffError(
            f"只有经理（manager）和管理员（admin）有上报级别；{role_label(role)}收到上报也不能确认，"
            "不能设置 --level。去掉 --level，或把角色改为 manager。"
        )
    if not 1 <= level <= MAX_LEVEL:
        raise StaffError(f"上报级别应该是 1 到 {MAX_LEVEL} 的整数（1 = 最先通知）。")


def add_person(
    session: Session,
    *,
    name: str,
    role: str,
    now: datetime,
    telegram_id: int | None = None,
    wecom_userid: str | None = None,
    level: int | None = None,
) -> Person:
    """Register a person with the given accounts. Raises StaffError (nothing stored) on bad input."""
    name = clean_name(name)
    role = parse_role(role)
    _check_level(role, level)
    accounts: list[tuple[str, str]] = []
    if telegram_id is not None:
        if telegram_id <= 0:
            raise StaffError("Telegram ID 应该是对方的数字用户 ID（正整数），例如 --telegram-id 123456789。")
        accounts.append((TELEGRAM, str(telegram_id)))
    if wecom_userid is not None:
        userid = wecom_userid.strip()
        if not userid or len(userid) > 128 or any(ch.isspace() for ch in userid):
            raise StaffError("企业微信账号应该是通讯录里的 userid（不含空格），例如 --wecom-userid zhangsan。")
        accounts.append((WECOM, userid))
    for channel, external_id in accounts:
        owner = _owner_of(session, channel, external_id)
        if owner is not None:
            raise StaffError(
                f"{channel_label(channel)}账号 {external_id} 已经绑定给 {describe(owner)}，未保存。"
                "一个账号只能属于一个人。"
            )
    person = Person(name=name, role=role, level=level, active=True, is_console=False, created_at=now)
    session.add(person)
    session.flush()
    for channel, external_id in accounts:
        session.add(Account(person_id=person.id, channel=channel, external_id=external_id,
                            chat_id=external_id, created_at=now))
    session.flush()
    session.refresh(person)
    log.info("staff added: person %s (%s) with %s account(s)", person.id, role, len(accounts))
    return person


def list_people(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).order_by(Person.id)).all())


def find_people(session: Session, ref: str) -> list[Person]:
    """People a reference names: a number is an id (else a name), anything else an exact name."""
    ref = ref.strip()
    if ref.isdigit():
        person = session.get(Person, int(ref))
        if person is not None:
            return [person]
    return list(session.scalars(select(Person).where(Person.name == ref).order_by(Person.id)).all())


def find_one(session: Session, ref: str, *, active_only: bool = False) -> Person:
    people = find_people(session, ref)
    if active_only:
        people = [p for p in people if p.active]
    if not people:
        raise StaffError(f"找不到“{ref}”。用 dutybot staff list 查看人员编号。")
    if len(people) > 1:
        lines = "\n".join(f"  {p.id}  {p.name}  {role_label(p.role)}  {'在用' if p.active else '停用'}"
                          for p in people)
        raise StaffError(f"有 {len(people)} 个人叫“{ref}”，请改用编号：\n{lines}")
    return people[0]


def deactivate(session: Session, ref: str) -> tuple[Person, bool]:
    """Deactivate a person (nothing is deleted; their records keep them as author).

    Returns the person and whether anything changed (False: already deactivated).
    """
    person = find_one(session, ref)
    if not person.active:
        return person, False
    person.active = False
    session.flush()
    log.info("staff deactivated: person %s", person.id)
    return person, True


def activate(session: Session, ref: str) -> tuple[Person, bool]:
    person = find_one(session, ref)
    if person.active:
        return person, False
    person.active = True
    session.flush()
    log.info("staff reactivated: person %s", person.id)
    return person, True


# --- invite codes --------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What the person typed → the code: full-width folded, case ignored, spaces and dashes dropped."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("ascii", "ignore")).hexdigest()


def display_code(code: str) -> str:
    """Grouped for reading aloud: ABCDE-FGHJK (the dash is ignored when redeemed)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def _looks_like_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


@dataclass(frozen=True)
class NewInvite:
    code: str  # shown once; only its hash is stored
    invite: Invite
    person: Person | None  # the person to bind to, for a bind invite


def create_invite(
    session: Session,
    *,
    now: datetime,
    role: str | None = None,
    name: str | None = None,
    hours: int = DEFAULT_INVITE_HOURS,
) -> NewInvite:
    """An invite for a new person (role given) or to bind another account to a person (name only)."""
    if not 1 <= hours <= MAX_INVITE_HOURS:
        raise StaffError(f"有效期应该是 1 到 {MAX_INVITE_HOURS} 小时。")
    person: Person | None = None
    if role is not None:
        role = parse_role(role)
        name = clean_name(name) if name is not None else None
    elif name is not None:
        person = find_one(session, name, active_only=True)
        if person.is_console:
            raise StaffError(f"{describe(person)}是控制台测试身份，不能绑定聊天账号。")
    else:
        raise StaffError(
            "请说明邀请谁：新同事用 --role（如 --role guard --name 张三），"
            "已登记的人绑定新账号用 --name（如 --name 张三）。"
        )
    code = new_code()
    invite = Invite(
        code_hash=hash_code(code),
        role=role,
        name=name if person is None else None,
        person_id=person.id if person is not None else None,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(invite)
    session.flush()
    log.info("invite %s created (%s)", invite.id, f"bind person {person.id}" if person else f"new {role}")
    return NewInvite(code=code, invite=invite, person=person)


# --- redeeming (/start CODE) ---------------------------------------------------------------------

Outcome = Literal["throttled", "invalid", "created", "bound", "deactivated"]


@dataclass(frozen=True)
class Redeemed:
    outcome: Outcome
    person: Person | None = None


def _wrong_attempts(session: Session, channel: str, external_id: str, now: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.channel == channel,
            LoginAttempt.external_id == external_id,
            LoginAttempt.ok.is_(False),
            LoginAttempt.at > now - WRONG_CODE_WINDOW,
        )
    ) or 0


def _log_attempt(session: Session, channel: str, external_id: str, now: datetime, ok: bool) -> None:
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.channel == channel,
        LoginAttempt.external_id == external_id,
        LoginAttempt.at < now - ATTEMPT_RETENTION,
    ))
    session.add(LoginAttempt(channel=channel, external_id=external_id, at=now, ok=ok))
    session.flush()


def is_throttled(session: Session, channel: str, external_id: str, now: datetime) -> bool:
    return _wrong_attempts(session, channel, external_id, now) >= MAX_WRONG_CODES


def valid_invite(session: Session, code: str, now: datetime) -> Invite | None:
    """The unused, unexpired invite a code opens (a bind invite only while its person is active)."""
    normalized = normalize_code(code)
    if not _looks_like_code(normalized):
        return None
    invite = session.scalar(select(Invite).where(Invite.code_hash == hash_code(normalized)))
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    if invite.person_id is not None:
        person = session.get(Person, invite.person_id)
        if person is None or not person.active:
            return None
    return invite


def redeem(
    session: Session,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    code: str,
    now: datetime,
    sender_name: str = "",
) -> Redeemed:
    """Redeem a code from an account that belongs to nobody active: create the person or bind.

    Wrong codes are logged per account; past MAX_WRONG_CODES in the window the code is not checked.
    The caller handles accounts that already belong to an active person.
    """
    account = session.scalar(
        select(Account).where(Account.channel == channel, Account.external_id == external_id)
    )
    if account is not None:
        # Bound to a deactivated person (an active owner is the caller's case): never re-registered
        # by a code; the admin reactivates the person instead.
        log.warning("invite code from the deactivated %s account %s refused", channel, external_id)
        return Redeemed("deactivated", account.person)
    if is_throttled(session, channel, external_id, now):
        log.warning("invite code from %s account %s throttled", channel, external_id)
        return Redeemed("throttled")
    invite = valid_invite(session, code, now)
    if invite is not None:
        # Claim it atomically: of two accounts redeeming one code at once, exactly one wins.
        claimed = session.execute(
            update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None)).values(used_at=now)
        ).rowcount
        if claimed != 1:
            invite = None
    if invite is None:
        _log_attempt(session, channel, external_id, now, ok=False)
        log.warning("wrong invite code from %s account %s", channel, external_id)
        return Redeemed("invalid")
    session.refresh(invite)
    if invite.person_id is not None:
        person = session.get(Person, invite.person_id)
        assert person is not None
        outcome: Outcome = "bound"
    else:
        person = Person(name=_new_person_name(invite, sender_name), role=invite.role or "guard",
                        active=True, is_console=False, created_at=now)
        session.add(person)
        session.flush()
        if not person.name:
            person.name = f"新同事{person.id}"
        outcome = "created"
    new_account = Account(person_id=person.id, channel=channel, external_id=external_id,
                          chat_id=chat_id or external_id, created_at=now)
    session.add(new_account)
    session.flush()
    invite.used_by = new_account.id
    _log_attempt(session, channel, external_id, now, ok=True)
    session.flush()
    session.refresh(person)
    log.info("invite %s redeemed by %s account %s: person %s %s", invite.id, channel, external_id,
             person.id, outcome)
    return Redeemed(outcome, person)


def _new_person_name(invite: Invite, sender_name: str) -> str:
    if invite.name:
        return invite.name
    try:
        return clean_name(sender_name)
    except StaffError:
        return ""  # filled with a numbered placeholder once the id is known


def admins_to_tell(session: Session, *, except_id: int | None = None) -> list[Person]:
    """Active admins with a real account (console identities are never told)."""
    admins = session.scalars(
        select(Person).where(Person.role == "admin", Person.active.is_(True), Person.is_console.is_(False))
        .order_by(Person.id)
    ).all()
    return [a for a in admins if a.id != except_id]


# --- the `dutybot staff` command line ------------------------------------------------------------


def cli(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """Run one `dutybot staff …` subcommand: 0 done, 1 a user error (explained in Chinese)."""
    from bot.storage.db import make_engine, session_factory, upgrade

    out = out or sys.stdout
    err = err or sys.stderr
    # One-shot admin command: the printed lines say what happened; migration chatter is noise here.
    for noisy in ("alembic", __name__):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        command = _COMMANDS[args.staff_command]
        try:
            with sessions.begin() as session:
                lines = command(session, args, settings)
        except StaffError as error:
            print(f"错误：{error}", file=err)
            return 1
        print("\n".join(lines), file=out)
        return 0
    finally:
        engine.dispose()


def _local(when: datetime, settings: Settings) -> str:
    local = when.astimezone(ZoneInfo(settings.timezone))
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _cli_add(session: Session, args: argparse.Namespace, settings: Settings) -> list[str]:
    same_name = session.scalars(
        select(Person).where(Person.name == args.name.strip(), Person.active.is_(True))
    ).all()
    person = add_person(session, name=args.name, role=args.role, now=datetime.now(UTC),
                        telegram_id=args.telegram_id, wecom_userid=args.wecom_userid, level=args.level)
    lines = [f"已登记：{describe(person)}"]
    if person.level is not None:
        lines.extend(_level_lines(person.level, settings))
    channels = _channels_text(person)
    lines.append(f"已绑定：{channels}" if channels else
                 f"还没有绑定聊天账号。可以用 dutybot staff invite --name {person.id} 生成绑定邀请码。")
    if person.role == "manager" and person.level is None:
        lines.append("提示：没有设置 --level，这位经理不会收到逐级上报。")
    if same_name:
        lines.append(f"提示：已有同名人员（编号 {'、'.join(str(p.id) for p in same_name)}），"
                     "以后请用编号区分。")
    return lines


def _level_lines(level: int, settings: Settings) -> list[str]:
    """The level as the admin knows it (its name in seeds/escalation.toml), and a warning when the
    chain has no such level."""
    from bot.core.escalation import FILE_NAME, load_chain
    from retrieval.lexicon import SeedError

    try:
        chain = load_chain(settings.seeds_dir / FILE_NAME)
    except SeedError:  # a broken file is reported by `dutybot seeds check`; the person is stored anyway
        return [f"上报级别：{level}（1 = 最先通知）"]
    names = {lv.number: lv.name for lv in chain.levels}
    if level in names:
        return [f"上报级别：{level}（{names[level]}，1 = 最先通知）"]
    return [f"上报级别：{level}（1 = 最先通知）",
            f"提示：escalation.toml 里没有第 {level} 级（现有 {len(names)} 级），这一级的人不会收到上报。"]


def _channels_text(person: Person) -> str:
    parts = []
    for account in sorted(person.accounts, key=lambda a: a.id):
        if account.channel == CONSOLE:
            parts.append(channel_label(CONSOLE))
        else:
            parts.append(f"{channel_label(account.channel)} {account.external_id}")
    return "，".join(parts)


def _cli_list(session: Session, _args: argparse.Namespace, _settings: Settings) -> list[str]:
    people = list_people(session)
    if not people:
        return ["还没有登记任何人员。用 dutybot staff add 登记，或 dutybot staff invite 生成邀请码。"]
    header = ("编号", "姓名", "角色", "级别", "渠道", "状态")
    rows = [
        (
            str(p.id),
            p.name + (" *" if p.is_console else ""),
            role_label(p.role),
            str(p.level) if p.level is not None else "-",
            _channels_text(p) or "未绑定",
            "在用" if p.active else "停用",
        )
        for p in people
    ]
    lines = format_table(header, rows)
    active = sum(1 for p in people if p.active)
    lines.append(f"共 {len(people)} 人，在用 {active} 人。")
    if any(p.is_console for p in people):
        lines.append("* 控制台测试身份：只在本机控制台使用，不会收到上报和提醒。")
    return lines


def _cli_deactivate(session: Session, args: argparse.Namespace, _settings: Settings) -> list[str]:
    person, changed = deactivate(session, args.ref)
    if not changed:
        return [f"{describe(person)}已经是停用状态，没有改动。"]
    return [f"已停用：{describe(person)}。",
            "他/她登记的记录都保留；之后再发消息会被当作未开通的人拒绝。"
            f"需要恢复时用 dutybot staff activate {person.id}。"]


def _cli_activate(session: Session, args: argparse.Namespace, _settings: Settings) -> list[str]:
    person, changed = activate(session, args.ref)
    if not changed:
        return [f"{describe(person)}本来就在用，没有改动。"]
    return [f"已重新启用：{describe(person)}。"]


def _cli_invite(session: Session, args: argparse.Namespace, settings: Settings) -> list[str]:
    made = create_invite(session, now=datetime.now(UTC), role=args.role, name=args.name, hours=args.hours)
    code = display_code(made.code)
    until = _local(made.invite.expires_at, settings)
    lines = [f"邀请码：{code}"]
    if made.person is not None:
        lines.append(f"用途：给 {describe(made.person)}绑定一个新的聊天账号（Telegram 或企业微信）。")
    else:
        assert made.invite.role is not None
        who = made.invite.name or "（未填，将使用对方的聊天昵称）"
        lines.append(f"用途：新同事注册为{role_label(made.invite.role)}，姓名：{who}。")
    lines.append(f"请让对方给机器人发送：/start {code}，{args.hours}小时内有效（{until} 前）。")
    lines.append("邀请码只显示这一次，只能用一次；大小写和中间的横线都可以不管。")
    if made.person is None and made.invite.role == "manager":
        lines.append("提示：经理需要上报级别才会收到逐级上报。请改用 dutybot staff add --role manager "
                     "--level N 登记，再用 staff invite --name 生成绑定邀请码。")
    return lines


_COMMANDS = {
    "add": _cli_add,
    "list": _cli_list,
    "deactivate": _cli_deactivate,
    "activate": _cli_activate,
    "invite": _cli_invite,
}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns aligned for a terminal, counting a Chinese character as two columns."""
    widths = [max(_width(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
