"""seeds/reminders.toml: the rule schedules (`[[reminder]]`) and groups (`[group.<key>]`) — parsed,
checked (`dutybot seeds check`) and, for the groups, re-read when the file changes.

The file's rule schedules are loaded into `Reminder` rows by jobs.reminders.load_rules.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import timephrase
from bot.core.timephrase import Repeating
from bot.outbox import valid_robot_name
from bot.seedfile import LiveSeed, read_toml_seed
from bot.staff import ROLE_ALIASES
from bot.storage.models import ROLES
from retrieval.lexicon import SeedProblem

log = logging.getLogger(__name__)

FILE_NAME = "reminders.toml"
MAX_TEXT = 200
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ON_DUTY_WORDS = frozenset({"on_duty", "值班", "值班人员", "当班", "当班人员"})
# What may be written for a role (besides the role's own name): the staff command's words, and 门卫.
ROLE_WORDS = {**ROLE_ALIASES, "门卫": "guard"}


def parse_role(word: str) -> str | None:
    value = unicodedata.normalize("NFKC", word).strip()
    role = ROLE_WORDS.get(value, value.lower())
    return role if role in ROLES else None


# ---------------------------------------------------------------------------------------------
# seeds/reminders.toml


@dataclass(frozen=True)
class Group:
    key: str
    name: str  # what people read ("经理")
    roles: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    key: str
    when: str
    trigger: Repeating
    audience: Mapping[str, Any]
    text: str
    citation: str
    enabled: bool = True


@dataclass(frozen=True)
class Seeds:
    rules: tuple[RuleSpec, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=lambda: MappingProxyType({}))


_RULE_KEYS = ("key", "when", "who", "text", "rule", "enabled")
_GROUP_KEYS = ("name", "roles", "names")



def parse_seeds(
    raw: str,
    file: str,
    *,
    tz: ZoneInfo,
    now: datetime,
    find_citation: Any = None,
) -> tuple[Seeds | None, list[SeedProblem]]:
    """The rule schedules and groups in `raw`, or None with every problem found.

    `find_citation(ref) -> bool` says whether a citation names a clause of the corpus (None: not
    checked). Messages do not repeat the line number (`SeedProblem.line` carries it).
    """
    seed, problems = read_toml_seed(
        raw, file, top_keys=("reminder", "group"), top_keys_text="[[reminder]] 和 [group.名称]",
        syntax_hint=("文字要用英文双引号括起来（when = \"每天 20:45\"），"
            "表头写成 [[reminder]] 或 [group.名称]。"),
    )
    if seed is None:
        return None, problems

    def problem(line: int, message: str) -> None:
        problems.append(SeedProblem(file, line, message))

    data: dict[str, Any] = seed.data
    line_of = seed.line_of

    groups: dict[str, Group] = {}
    raw_groups = data.get("group", {})
    if not isinstance(raw_groups, dict):
        problem(line_of("group"), "分组要写成 [group.名称] 表，例如 [group.managers]。")
        raw_groups = {}
    for gkey, entry in raw_groups.items():
        section = f"group.{gkey}"
        header = line_of(section)
        if not isinstance(entry, dict):
            problem(header, f"分组“{gkey}”要写成 [group.{gkey}] 表。")
            continue
        if not KEY_PATTERN.match(gkey):
            problem(header, f"分组名“{gkey}”只能用小写英文字母、数字、- 和 _，例如 managers。")
            continue
        for key in entry:
            if key not in _GROUP_KEYS:
                problem(line_of(section, key),
                        f"不认识的设置“{key}”（分组只有 name、roles、names；企业微信群、Telegram 群等接入渠道后再加）。")
        roles: list[str] = []
        raw_roles = entry.get("roles", [])
        if isinstance(raw_roles, str):
            raw_roles = [raw_roles]
        if not isinstance(raw_roles, list):
            problem(line_of(section, "roles"), "roles 要写成列表，例如 roles = [\"manager\", \"admin\"]。")
            raw_roles = []
        for word in raw_roles:
            role = parse_role(word) if isinstance(word, str) else None
            if role is None:
                problem(line_of(section, "roles"),
                        f"没有“{word}”这个角色（可用：guard 保安、clerk 客服、manager 经理、admin 管理员）。")
            elif role not in roles:
                roles.append(role)
        names = entry.get("names", [])
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            problem(line_of(section, "names"), "names 要写成姓名列表，例如 names = [\"张三\", \"李四\"]。")
            names = []
        if not roles and not names:
            problem(header, f"分组“{gkey}”没有成员：请写 roles（角色）或 names（姓名）。")
            continue
        name = entry.get("name", gkey)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 20:
            problem(line_of(section, "name"), "name 要写 1 到 20 个字，例如 name = \"经理\"。")
            continue
        groups[gkey] = Group(gkey, name.strip(), tuple(roles), tuple(n.strip() for n in names))

    rules: list[RuleSpec] = []
    keys: dict[str, int] = {}
    entries = data.get("reminder", [])
    if not isinstance(entries, list):
        problem(line_of("reminder"), "每条定时提醒要写成 [[reminder]] 表。")
        entries = []
    for i, entry in enumerate(entries):
        header = line_of("reminder", index=i)
        if not isinstance(entry, dict):
            problem(header, "每条定时提醒要写成 [[reminder]] 表。")
            continue
        for key in entry:
            if key not in _RULE_KEYS:
                problem(line_of("reminder", key, i),
                        f"不认识的设置“{key}”（每条提醒有 key、when、who、text、rule，可选 enabled）。")
        missing = [key for key in ("key", "when", "who", "text", "rule") if key not in entry]
        if missing:
            problem(header, f"这条提醒缺少 {'、'.join(missing)}。")
            continue
        key, when, who, text, rule = (entry[k] for k in ("key", "when", "who", "text", "rule"))
        ok = True
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            problem(line_of("reminder", "key", i),
                    f"key 只能用小写英文字母、数字、- 和 _（例如 gate-close），现在是“{key}”。")
            ok = False
        elif key in keys:
            problem(line_of("reminder", "key", i), f"key“{key}”和第 {keys[key]} 行重复了。")
            ok = False
        else:
            keys[key] = line_of("reminder", "key", i)
        trigger: Repeating | None = None
        if not isinstance(when, str) or not when.strip():
            problem(line_of("reminder", "when", i), "when 要写提醒时间，例如 when = \"每天 20:45\"。")
            ok = False
        else:
            try:
                parsed = timephrase.parse(when, now, tz)
            except timephrase.TimePhraseError as err:
                problem(line_of("reminder", "when", i), f"when“{when}”：{err.message}")
                ok = False
            else:
                if not isinstance(parsed.trigger, Repeating):
                    problem(line_of("reminder", "when", i),
                            f"when“{when}”只提醒一次；定时提醒要写重复的时间，例如 每天 20:45、每周一 08:30、"
                            "工作日 17:30、每月20号 09:00。")
                    ok = False
                elif parsed.message:
                    problem(line_of("reminder", "when", i),
                            f"when 里只写时间，“{parsed.message}”请写到 text 里。")
                    ok = False
                else:
                    trigger = parsed.trigger
        audience = _audience_of(who, groups, raw_groups)
        if audience is None:
            problem(line_of("reminder", "who", i),
                    f"who“{who}”不对：写 \"on_duty\"（值班人员）、\"role:guard\"（某个角色，也可写 role:保安）"
                    "、\"group:managers\"（下面 [group.…] 定义的分组）"
                    "或 \"robot:经理群\"（企业微信群机器人，名称和 WECOM_ROBOT_WEBHOOKS 里的一致，不含空格和引号）。")
            ok = False
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
            problem(line_of("reminder", "text", i), f"text 要写 1 到 {MAX_TEXT} 个字的提醒内容。")
            ok = False
        if not isinstance(rule, str) or not rule.strip():
            problem(line_of("reminder", "rule", i), "rule 要写依据的条款，例如 rule = \"《更夫守则》十、\"。")
            ok = False
        elif find_citation is not None and not find_citation(rule.strip()):
            problem(line_of("reminder", "rule", i),
                    f"规章制度里找不到条款“{rule}”。请写成《文件名》加条号，例如《更夫守则》十、"
                    "（可以用 dutybot corpus show 查）。")
            ok = False
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            problem(line_of("reminder", "enabled", i), "enabled 只能写 true 或 false。")
            ok = False
        if ok and trigger is not None and audience is not None:
            rules.append(RuleSpec(key, when.strip(), trigger, MappingProxyType(audience), text.strip(),
                                  rule.strip(), enabled))
    if problems:
        return None, sorted(problems, key=lambda p: p.line)
    return Seeds(tuple(rules), MappingProxyType(groups)), []


def _audience_of(who: Any, groups: Mapping[str, Group], raw_groups: Mapping[str, Any]) -> dict[str, Any] | None:
    """who = "on_duty" | "role:guard" (role:保安, or just 保安) | "group:managers" (or just managers)
    | "robot:经理群" (a WeCom group robot named in WECOM_ROBOT_WEBHOOKS)."""
    if not isinstance(who, str):
        return None
    value = unicodedata.normalize("NFKC", who).strip()
    kind, sep, rest = value.partition(":")
    if not sep:
        kind, rest = "", value
    kind, rest = kind.strip().lower(), rest.strip()
    if kind in ("", "on_duty") and (rest in ON_DUTY_WORDS or kind == "on_duty" and not rest):
        return {"on_duty": True}
    if kind in ("", "role"):
        role = parse_role(rest)
        if role is not None:
            return {"role": role}
    if kind in ("", "group") and (rest in groups or rest in raw_groups):
        return {"group": rest}
    if kind == "robot" and valid_robot_name(rest):
        return {"robot": rest}  # a WeCom group robot (WECOM_ROBOT_WEBHOOKS): one message to the group
    return None


def _citation_finder(seeds_dir: Path) -> Any:
    """A `find_citation` over the corpus in seeds_dir/regulations; None when it cannot be read (that
    problem is reported by the regulations check)."""
    try:
        from retrieval.corpus import find_clauses, load_corpus

        docs = load_corpus(seeds_dir / "regulations")
    except Exception:
        log.exception("regulations unreadable; rule citations not checked")
        return None
    if not docs:
        return None
    return lambda ref: bool(find_clauses(docs, ref))


def read_seeds(seeds_dir: Path, tz: ZoneInfo, now: datetime, *, check_citations: bool = True
               ) -> tuple[Seeds | None, list[SeedProblem]]:
    path = seeds_dir / FILE_NAME
    if not path.is_file():
        return None, [SeedProblem(str(path), 0, "找不到定时提醒设置文件 reminders.toml。")]
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return None, [SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。")]
    finder = _citation_finder(seeds_dir) if check_citations else None
    return parse_seeds(raw, str(path), tz=tz, now=now, find_citation=finder)


def check_reminders(seeds_dir: Path, timezone: str = "Asia/Shanghai") -> list[SeedProblem]:
    """Every problem of seeds/reminders.toml (`dutybot seeds check`); empty when it is fine."""
    return read_seeds(seeds_dir, ZoneInfo(timezone), datetime.now(UTC))[1]


def _read_groups(path: Path) -> tuple[Mapping[str, Group] | None, list[SeedProblem]]:
    seeds, problems = read_seeds(path.parent, ZoneInfo("UTC"), datetime.now(UTC), check_citations=False)
    return (seeds.groups if seeds is not None else None), problems


_GROUPS: LiveSeed[Mapping[str, Group]] = LiveSeed("reminder groups", _read_groups, MappingProxyType({}))


def groups_of(seeds_dir: Path) -> Mapping[str, Group]:
    """The groups now in the seeds file (re-read when it changes; no file means none)."""
    return _GROUPS.get(seeds_dir / FILE_NAME)
