"""Console chat: the terminal as a channel, through the same core and outbox as Telegram and WeCom."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

from bot.core import texts
from bot.core.identity import ROLE_NAMES
from bot.core.messages import Document, Inbound, Outbound
from bot.core.router import Core
from bot.dispatch import Dispatcher
from bot.storage.models import Person

CHANNEL = "console"
LOCAL_CHAT = "console"


class ConsoleSender:
    """Prints what the outbox sends to the console: replies as they are, others as "→ 姓名(角色): …"."""

    def __init__(self, stdout: TextIO, export_dir: Path | None = None):
        self.stdout = stdout
        # Where documents (exports) are written; None: only their name and size are shown.
        self.export_dir = export_dir

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        text = render(out)
        if out.document is not None:
            text += "\n" + self._save(out.document)
        if out.to != LOCAL_CHAT:
            name = recipient.name if recipient else out.to
            role = ROLE_NAMES.get(recipient.role, recipient.role) if recipient else "?"
            text = texts.NOTIFY_PREFIX.format(name=name, role=role) + text
        print(text, file=self.stdout, flush=True)

    def _save(self, document: Document) -> str:
        """Write the document under export_dir (never outside it) and say where it is."""
        if self.export_dir is None:
            return f"📎 {document.name}（{len(document.content)} 字节，未保存）"
        self.export_dir.mkdir(parents=True, exist_ok=True)
        path = self.export_dir / (Path(document.name).name or "export")
        path.write_bytes(document.content)
        return f"📎 已保存：{path}"


def render(out: Outbound) -> str:
    text = out.text
    if out.buttons:
        text += "\n" + "  ".join(f"[{b.label}]" for b in out.buttons)
    return text


async def run_console(
    core: Core, dispatcher: Dispatcher, stdin: TextIO, stdout: TextIO, *, sender: str, interactive: bool
) -> None:
    """Chat until end of input. Scripted (not a terminal): no banner, no prompt, one message a line,
    and every reply to a line printed before the next line is read."""
    if interactive:
        print(texts.CONSOLE_BANNER, file=stdout, flush=True)
    await dispatcher.drain()  # anything left from a previous run
    number = 0
    while True:
        if interactive:
            print(texts.CONSOLE_PROMPT, end="", file=stdout, flush=True)
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            if interactive:
                print(file=stdout, flush=True)
            return
        number += 1
        inbound = Inbound(channel=CHANNEL, sender=sender, chat=LOCAL_CHAT, text=line.rstrip("\r\n"))
        await asyncio.to_thread(core.handle, inbound)
        await dispatcher.drain()
        if interactive:
            print(file=stdout, flush=True)
