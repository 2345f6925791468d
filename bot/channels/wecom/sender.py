"""Delivers outbox rows on WeCom: a user's chat (their userid) through the app's message/send, a
"robot:<name>" chat through that group robot's webhook. Buttons become a numbered list (WeCom app
text messages have no buttons; a bare number reply is mapped back in `prepare`)."""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.wecom.client import CONFIG_ERRORS, WeComApiError, WeComClient, WeComNetworkError
from bot.channels.wecom.robot import Robots, UnknownRobot, robot_name
from bot.channels.wecom.split import split_bytes
from bot.core.messages import Outbound
from bot.dispatch import DeliveryError
from bot.pacing import ChannelLimits, Window
from bot.storage.models import Person

log = logging.getLogger(__name__)

TEXT_BYTES = 2048
MARKDOWN_BYTES = 2048
CHOOSE = "回复数字选择："
# A frequency block lasts one window (minute → 1 min); robots: back off at least 60 s.
FREQ_RETRY_AFTER = 60.0

LIMITS = ChannelLimits(
    # WeCom drops (silently) app messages beyond 30/min and 1000/h per member; robots: 20/min each.
    chat=(Window(30, 60.0), Window(1000, 3600.0)),
    group=(Window(20, 60.0),),
    is_group=lambda chat: robot_name(chat) is not None,
)


def render(out: Outbound) -> str:
    """The text with its buttons as "回复数字选择：1. 紧急 2. 一般"."""
    text = out.text
    if out.buttons:
        choices = " ".join(f"{i}. {b.label}" for i, b in enumerate(out.buttons, 1))
        text = f"{text}\n{CHOOSE}{choices}"
    return text


class WeComSender:
    name = "wecom"
    limits = LIMITS

    def __init__(self, client: WeComClient, agent_id: int, robots: Robots):
        self.client = client
        self.agent_id = agent_id
        self.robots = robots

    async def send(self, out: Outbound, recipient: Person | None) -> None:
        try:
            robot = robot_name(out.to)
            if robot is not None:
                await self.robots.send_text(robot, render(out))
                return
            await self.send_text(out.to, render(out))
            if out.document is not None:
                media_id = await self.client.upload("file", out.document.name, out.document.content)
                await self.client.send_message(self._payload(out.to, "file", {"media_id": media_id}))
        except WeComApiError as err:
            raise delivery_error(err) from None
        except WeComNetworkError as err:
            raise DeliveryError(f"WeCom unreachable: {err}") from None
        except UnknownRobot as err:
            log.error("outbox names group robot %r, which WECOM_ROBOT_WEBHOOKS does not define "
                      "(群机器人“%s”没有配置)", str(err), str(err))
            raise DeliveryError(f"群机器人“{err}”没有配置（WECOM_ROBOT_WEBHOOKS）", permanent=True) from None

    async def send_text(self, userid: str, text: str) -> None:
        for part in split_bytes(text, TEXT_BYTES):
            await self.client.send_message(self._payload(userid, "text", {"content": part}))

    async def send_markdown(self, userid: str, text: str) -> None:
        for part in split_bytes(text, MARKDOWN_BYTES):
            await self.client.send_message(self._payload(userid, "markdown", {"content": part}))

    def _payload(self, userid: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"touser": userid, "msgtype": kind, "agentid": self.agent_id, kind: body,
                "safe": 0, "enable_duplicate_check": 0}


def delivery_error(err: WeComApiError) -> DeliveryError:
    """What the dispatcher should do about a WeCom error code."""
    if err.errcode in CONFIG_ERRORS:
        # An admin must fix the setup; retrying would only repeat the error (the dispatcher alerts).
        log.error("WeCom configuration problem on %s: errcode %s — %s", err.api, err.errcode, err.hint())
        return DeliveryError(err.hint(), permanent=True)
    if err.errcode == 45009:
        return DeliveryError(err.hint(), retry_after=FREQ_RETRY_AFTER)
    if err.errcode in (81013, 82001):  # the person left or is outside the app's visible range
        return DeliveryError(err.hint(), blocked=True)
    if err.errcode in (44004, 45002, 40058):
        return DeliveryError(err.hint(), permanent=True)
    return DeliveryError(err.hint())
