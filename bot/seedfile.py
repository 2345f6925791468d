"""Admin-editable TOML files in seeds/: parsed, with the line of every header and key, so each
problem can be reported to the admin by line ("escalation.toml 第 12 行：…")."""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from retrieval.lexicon import SeedProblem

log = logging.getLogger(__name__)
T = TypeVar("T")

_SECTION = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_WHERE = re.compile(r"line (\d+)(?:, column (\d+))?")


class TomlSyntaxError(ValueError):
    """The file is not valid TOML; `line` (0 = unknown) and `column` say where."""

    def __init__(self, message: str, line: int, column: int | None):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class TomlSeed:
    data: dict[str, Any]
    # (section, index within an array of tables, key) → line; a header is stored under key "".
    lines: dict[tuple[str, int, str], int]

    def line_of(self, section: str, key: str = "", index: int = 0) -> int:
        """The key's line, else its table header's line, else 0 (the whole file)."""
        return self.lines.get((section, index, key)) or self.lines.get((section, index, "")) or 0


def parse_toml(raw: str) -> TomlSeed:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        m = _WHERE.search(str(err))
        line = int(m.group(1)) if m else 0
        column = int(m.group(2)) if m and m.group(2) else None
        raise TomlSyntaxError(str(err), line, column) from err
    return TomlSeed(data, _key_lines(raw))


def _key_lines(raw: str) -> dict[tuple[str, int, str], int]:
    where: dict[tuple[str, int, str], int] = {}
    counts: dict[str, int] = {}
    section, index = "", 0
    for number, line in enumerate(raw.splitlines(), start=1):
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            index = counts.get(section, 0)
            counts[section] = index + 1
            where[(section, index, "")] = number
            continue
        key = _KEY.match(line)
        if key:
            where.setdefault((section, index, key.group(1)), number)
    return where


class LiveSeed(Generic[T]):
    """A seed file read again whenever it changes on disk (mtime and size), so an admin's edit
    applies without a restart. A broken or missing file never stops the bot: the last good value (or
    the built-in default) stays in force and the problems are logged; `dutybot seeds check` shows
    them to the admin."""

    def __init__(self, what: str, read: Callable[[Path], tuple[T | None, list[SeedProblem]]], default: T):
        self._what = what
        self._read = read
        self._default = default
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], T]] = {}

    def get(self, path: Path) -> T:
        stamp = _stamp(path)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            value, problems = self._read(path)
            if value is None:
                value = cached[1] if cached is not None else self._default
                log.error("%s %s unusable, keeping %s: %s", self._what, path,
                          "the last good version" if cached else "the default", _summary(problems))
            elif problems:
                log.warning("%s %s: %s line(s) skipped: %s", self._what, path, len(problems),
                            _summary(problems))
            self._cache[path] = (stamp, value)
            return value


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _summary(problems: list[SeedProblem]) -> str:
    return "; ".join(f"{p.line}: {p.message}" for p in problems)


def read_toml_seed(
    raw: str, file: str, *, top_keys: tuple[str, ...], top_keys_text: str, syntax_hint: str
) -> tuple[TomlSeed | None, list[SeedProblem]]:
    """The common start of every TOML seed checker: a syntax error is one problem (with its line and
    column and a hint of how the file is written) and no seed; unknown top-level keys are problems too."""
    try:
        seed = parse_toml(raw)
    except TomlSyntaxError as err:
        near = f"（第 {err.column} 列附近）" if err.column else ""
        return None, [SeedProblem(file, err.line, f"写法不对{near}：{syntax_hint}")]
    problems = [
        SeedProblem(file, seed.line_of(key) or seed.line_of("", key),
                    f"不认识的设置“{key}”（只能有 {top_keys_text}）。")
        for key in seed.data if key not in top_keys
    ]
    return seed, problems
