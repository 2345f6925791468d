"""Group robots (群机器人): named webhooks that post text or markdown to a group chat.

A robot is configured as name → key (sent to WECOM_API_BASE_URL/cgi-bin/webhook/send?key=…) or a full
webhook URL. The key is a secret: it is only ever in the URL, never in a log line or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.split import split_bytes
from bot.outbox import robot_chat

TEXT_BYTES = 2048
MARKDOWN_BYTES = 4096
CHAT_PREFIX = robot_chat("")


__all__ = ["MARKDOWN_BYTES", "TEXT_BYTES", "Robots", "UnknownRobot", "robot_chat", "robot_name"]


class UnknownRobot(Exception):
    pass


def robot_name(chat: str) -> str | None:
    return chat[len(CHAT_PREFIX):] if chat.startswith(CHAT_PREFIX) else None


class Robots:
    def __init__(self, robots: Mapping[str, str], base_url: str, client: WeComClient):
        base = base_url.rstrip("/") + "/cgi-bin/webhook/send?key="
        self._urls = {name: value if value.startswith(("http://", "https://"))
                      else base + quote(value, safe="") for name, value in robots.items()}
        self.client = client

    @property
    def names(self) -> list[str]:
        return list(self._urls)

    def _url(self, name: str) -> str:
        url = self._urls.get(name)
        if url is None:
            raise UnknownRobot(name)
        return url

    async def send_text(self, name: str, content: str, mentioned: Sequence[str] = ()) -> int:
        """Post text (split at 2048 bytes); mentions (userids or "@all") ride on the first part."""
        url = self._url(name)
        parts = split_bytes(content, TEXT_BYTES)
        for i, part in enumerate(parts):
            text: dict[str, object] = {"content": part}
            if mentioned and i == 0:
                text["mentioned_list"] = list(mentioned)
            await self.client.post_json(url, {"msgtype": "text", "text": text}, "webhook/send")
        return len(parts)

    async def send_markdown(self, name: str, content: str, mentioned: Sequence[str] = ()) -> int:
        """Post markdown (split at 4096 bytes); markdown mentions are <@userid> inside the content."""
        url = self._url(name)
        if mentioned:
            content = " ".join(f"<@{m}>" for m in mentioned) + "\n" + content
        parts = split_bytes(content, MARKDOWN_BYTES)
        for part in parts:
            payload = {"msgtype": "markdown", "markdown": {"content": part}}
            await self.client.post_json(url, payload, "webhook/send")
        return len(parts)
