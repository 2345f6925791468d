"""Admin-editable TOML files in seeds/: parsed, with the line of every header and key, so each
problem can be reported to the admin by line ("escalation.toml 第 12 行：…")."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

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
