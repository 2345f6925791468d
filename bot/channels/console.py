"""Console chat: the terminal as a channel, through the same core as Telegram and WeCom."""

from __future__ import annotations

from typing import TextIO

from bot.core import texts
from bot.core.messages import Inbound, Outbound
from bot.core.router import Core

CHANNEL = "console"
LOCAL_CHAT = "console"


def run_console(core: Core, stdin: TextIO, stdout: TextIO, *, interactive: bool, sender: str = "local") -> None:
    """Chat until end of input. Scripted (not a terminal): no banner, no prompt, one message a line."""
    if interactive:
        print(texts.CONSOLE_BANNER, file=stdout, flush=True)
    for number, line in enumerate(_lines(stdin, stdout, interactive), start=1):
        inbound = Inbound(
            channel=CHANNEL, sender=sender, chat=LOCAL_CHAT, text=line, message_id=str(number)
        )
        for out in core.handle(inbound):
            print(render(out), file=stdout, flush=True)
        if interactive:
            print(file=stdout, flush=True)


def render(out: Outbound) -> str:
    text = out.text
    if out.buttons:
        text += "\n" + "  ".join(f"[{b.label}]" for b in out.buttons)
    return text


def _lines(stdin: TextIO, stdout: TextIO, interactive: bool):  # type: ignore[no-untyped-def]
    while True:
        if interactive:
            print(texts.CONSOLE_PROMPT, end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            if interactive:
                print(file=stdout, flush=True)
            return
        yield line.rstrip("\r\n")
