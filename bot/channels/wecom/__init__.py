"""WeCom (企业微信): the self-built app's callback and API, and group robots.

Modules: crypto (callback encryption), xml (hardened parsing), convert (message → Inbound, dedupe
key), client (async API with the access_token), robot (group webhooks), split (byte limits), sender
(outbox delivery), callback (Starlette routes), channel (the Channel), menu (app menu), bench.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import ChannelConfigError
from bot.channels.wecom.crypto import KeyFormatError, aes_key

if TYPE_CHECKING:
    from bot.channels.wecom.channel import WeComChannel
    from bot.settings import Settings


def build_channel(settings: Settings) -> WeComChannel:
    """The WeCom channel from the settings; ChannelConfigError (Chinese) when they are incomplete."""
    from bot.channels.wecom.channel import WeComChannel

    missing = [name for name, value in (
        ("WECOM_AGENT_ID", settings.wecom_agent_id), ("WECOM_SECRET", settings.wecom_secret),
        ("WECOM_TOKEN", settings.wecom_token), ("WECOM_ENCODING_AES_KEY", settings.wecom_encoding_aes_key),
    ) if value is None]
    if missing:
        raise ChannelConfigError(
            f"企业微信已设置 WECOM_CORP_ID，但缺少 {'、'.join(missing)}。"
            "请在管理后台 → 应用管理 → 自建应用里查看 AgentId 和 Secret，在“接收消息”设置里查看 Token 和 EncodingAESKey。")
    assert settings.wecom_encoding_aes_key is not None
    key = settings.wecom_encoding_aes_key.get_secret_value().strip()
    try:
        aes_key(key)
    except KeyFormatError:
        raise ChannelConfigError(
            f"WECOM_ENCODING_AES_KEY 应该是 43 位字母和数字（现在是 {len(key)} 位）。"
            "请从管理后台“接收消息”设置里完整复制 EncodingAESKey。") from None
    path = settings.wecom_callback_path
    if not path.startswith("/"):
        raise ChannelConfigError(f"WECOM_CALLBACK_PATH 要以 / 开头，例如 /wecom/callback（现在是“{path}”）。")
    return WeComChannel(settings)


__all__ = ["build_channel"]
