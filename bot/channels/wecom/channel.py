"""The WeCom channel: callback routes, the sender, and `prepare` (numbered choices, image download)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute

from bot.channels.base import Intake
from bot.channels.wecom.callback import callback_routes
from bot.channels.wecom.client import WeComApiError, WeComNetworkError, client_from_settings
from bot.channels.wecom.convert import CHANNEL
from bot.channels.wecom.crypto import WeComCrypto
from bot.channels.wecom.robot import Robots
from bot.channels.wecom.sender import WeComSender
from bot.core.messages import Attachment, Inbound
from bot.dispatch import Sender
from bot.inbox import Prepare
from bot.outbox import buttons_of
from bot.settings import Settings
from bot.storage.models import OutboxMessage

log = logging.getLogger(__name__)

STORED_PREFIX = "media/"  # an attachment ref under DATA_DIR (a downloaded image), not a media_id
_NUMBER = re.compile(r"^\d{1,2}$")
_EXTENSIONS = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png", "image/gif": "gif",
               "image/webp": "webp", "image/bmp": "bmp"}
# How far back to look for the message a bare number answers (rows without buttons in between).
_CHOICE_LOOKBACK = 20


class WeComChannel:
    name = CHANNEL

    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None):
        # build_channel checked these (ChannelConfigError in Chinese); asserts narrow the types.
        assert settings.wecom_token and settings.wecom_encoding_aes_key
        assert settings.wecom_agent_id is not None
        self.settings = settings
        self.crypto = WeComCrypto(settings.wecom_token.get_secret_value(),
                                  settings.wecom_encoding_aes_key.get_secret_value().strip(),
                                  settings.wecom_corp_id or "")
        self.client = client_from_settings(settings, http)
        self.robots = Robots(settings.robots, settings.wecom_api_base_url, self.client)
        self.wecom_sender = WeComSender(self.client, settings.wecom_agent_id, self.robots)
        # Typed as the Channel protocol declares them (its attributes are invariant).
        self.sender: Sender = self.wecom_sender
        self.prepare: Prepare | None = self._prepare
        self.media_dir = settings.data_dir / "media"
        self._sessions: sessionmaker[Session] | None = None

    def routes(self, intake: Intake) -> list[BaseRoute]:
        self._sessions = intake.sessions
        return callback_routes(self.settings.wecom_callback_path, self.crypto, intake)

    async def start(self, intake: Intake) -> None:
        self._sessions = intake.sessions
        log.info("WeCom channel ready: callback at %s, %s group robot(s)", self.settings.wecom_callback_path,
                 len(self.robots.names))

    async def stop(self) -> None:
        await self.client.close()

    # --- prepare: runs in the inbox worker just before the core

    async def _prepare(self, msg: Inbound) -> Inbound:
        msg = await asyncio.to_thread(self.map_choice, msg)
        if any(a.kind == "photo" and a.ref and not a.ref.startswith(STORED_PREFIX) for a in msg.attachments):
            msg = replace(msg, attachments=tuple([await self._stored(a) for a in msg.attachments]))
        return msg

    def map_choice(self, msg: Inbound) -> Inbound:
        """A bare "2" (or "２") answers the numbered buttons of the last message that had some."""
        number = unicodedata.normalize("NFKC", msg.text).strip()
        if msg.attachments or not _NUMBER.match(number) or self._sessions is None:
            return msg
        with self._sessions() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == CHANNEL, OutboxMessage.chat == msg.chat,
                       OutboxMessage.status == "sent")
                .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
                .limit(_CHOICE_LOOKBACK)
            ).all()
            buttons = next((b for row in rows if (b := buttons_of(row))), ())
        index = int(number)
        if not 1 <= index <= len(buttons):
            return msg
        return replace(msg, text=buttons[index - 1].reply)

    async def _stored(self, item: Attachment) -> Attachment:
        """Download a photo while its media_id is valid (3 days); keep the media_id if that fails."""
        if item.kind != "photo" or not item.ref or item.ref.startswith(STORED_PREFIX):
            return item
        try:
            media = await self.client.get_media(item.ref)
        except (WeComApiError, WeComNetworkError) as err:
            log.warning("WeCom image could not be downloaded (%s); the media_id is kept", err)
            return item
        digest = hashlib.sha256(media.content).hexdigest()
        name = f"{digest}.{_EXTENSIONS.get(media.content_type, 'bin')}"
        await asyncio.to_thread(_write_once, self.media_dir / name, media.content)
        return Attachment(item.kind, STORED_PREFIX + name)


def _write_once(path: Path, content: bytes) -> None:
    """Content-addressed: the same image twice is one file; written whole or not at all."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
