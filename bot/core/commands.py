"""The command table: every command's slash form and the Chinese words that also call it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    # Chinese words that call the command without a slash (guards on phones do not type Latin).
    words: tuple[str, ...] = ()


COMMANDS: tuple[Command, ...] = (
    Command("help", ("帮助", "说明", "菜单")),
    Command("start", ("开始",)),
    Command("ask", ("问", "查规定", "提问")),
)

_BY_SLASH = {c.name: c for c in COMMANDS}
_BY_WORD = {w: c for c in COMMANDS for w in c.words}


@dataclass(frozen=True)
class Parsed:
    command: str | None  # None: plain text; "" never happens
    args: str
    raw_command: str = ""  # as typed, for the "unknown command" reply


def parse(text: str) -> Parsed:
    """Split a message into a command and its arguments; plain text has command None."""
    stripped = text.strip()
    head, _, rest = stripped.partition(" ")
    if head.startswith("/") and len(head) > 1:
        name = head[1:].split("@", 1)[0].lower()  # "/help@dutybot" in group chats
        command = _BY_SLASH.get(name)
        return Parsed(command.name if command else "?", rest.strip(), raw_command=head)
    word_command = _BY_WORD.get(head)
    if word_command:
        return Parsed(word_command.name, rest.strip(), raw_command=head)
    return Parsed(None, stripped)
