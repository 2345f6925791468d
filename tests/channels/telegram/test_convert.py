"""Telegram updates → Inbound (pure conversion): private and group chats, mentions, media, buttons."""

from __future__ import annotations

from typing import Any

from telegram import Bot, Update

from bot.channels.telegram.convert import (
    BotIdentity,
    callback_data,
    callback_press,
    intake_key,
    message_inbound,
    parse_callback_data,
    press_inbound,
)
from bot.core.messages import Attachment
from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME, TOKEN, FakeTelegram

ME = BotIdentity(BOT_ID, BOT_USERNAME)
BOT = Bot(TOKEN)
fake = FakeTelegram()  # used only for its update builders (not started)
GROUP = -1001234567890


def upd(payload: dict[str, Any], update_id: int = 555) -> Update:
    return Update.de_json({"update_id": update_id, **payload}, BOT)


def test_private_text_is_a_message_with_the_update_id_as_its_id() -> None:
    msg = message_inbound(upd(fake.message(42, "值班能喝酒吗")), ME)
    assert msg is not None
    assert (msg.channel, msg.sender, msg.chat, msg.text, msg.message_id, msg.is_group) == (
        "telegram", "42", "42", "值班能喝酒吗", "555", False)
    assert msg.sender_name == "测试"
    assert intake_key(555) == "telegram:update:555"


def test_commands_lose_the_bot_name_and_keep_their_arguments() -> None:
    msg = message_inbound(upd(fake.message(42, f"/start@{BOT_USERNAME} ABC123")), ME)
    assert msg is not None and msg.text == "/start ABC123"
    msg = message_inbound(upd(fake.message(42, "/report 东门有人翻墙")), ME)
    assert msg is not None and msg.text == "/report 东门有人翻墙"


def test_group_takes_only_commands_mentions_and_replies_to_the_bot() -> None:
    def in_group(text: str, **extra: Any) -> str | None:
        msg = message_inbound(upd(fake.message(42, text, chat_id=GROUP, chat_type="supergroup", **extra)), ME)
        assert msg is None or (msg.is_group and msg.chat == str(GROUP) and msg.sender == "42")
        return None if msg is None else msg.text

    assert in_group("值班能喝酒吗") is None
    assert in_group("上报 东门有人翻墙") is None  # a command word without the bot's name: people talking
    assert in_group("/help") == "/help"
    assert in_group(f"/help@{BOT_USERNAME.upper()}") == "/help"
    assert in_group("/help@another_bot") is None
    assert in_group(f"@{BOT_USERNAME} 值班能喝酒吗") == "值班能喝酒吗"
    assert in_group(f"请问 @{BOT_USERNAME} 几点关门") == "请问 几点关门"
    reply_to_bot = {"message_id": 9, "date": 0, "chat": fake.chat(GROUP, "supergroup"), "from": fake.bot,
                    "text": "在哪里？"}
    assert in_group("东门", reply_to_message=reply_to_bot) == "东门"
    reply_to_person = dict(reply_to_bot, **{"from": fake.user(77)})
    assert in_group("东门", reply_to_message=reply_to_person) is None


def test_a_photo_alone_is_an_attachment_and_a_caption_is_the_text() -> None:
    msg = message_inbound(upd(fake.photo_message(42, "AgAC-big")), ME)
    assert msg is not None and msg.text == "" and msg.attachments == (Attachment("photo", "AgAC-big"),)
    msg = message_inbound(upd(fake.photo_message(42, "AgAC-big", caption="东门围墙破了")), ME)
    assert msg is not None and msg.text == "东门围墙破了" and msg.attachments[0].kind == "photo"
    msg = message_inbound(upd(fake.location_message(42, 22.9461, 113.7385)), ME)
    assert msg is not None and msg.attachments == (Attachment("location", "22.9461,113.7385"),)


def test_other_media_are_named_so_the_core_can_say_what_it_takes() -> None:
    voice = {"file_id": "voice-1", "file_unique_id": "v", "duration": 3}
    sticker = {"file_id": "st-1", "file_unique_id": "s", "width": 512, "height": 512, "is_animated": False,
               "is_video": False, "type": "regular"}
    document = {"file_id": "doc-1", "file_unique_id": "d", "file_name": "a.pdf"}
    contact = {"phone_number": "123", "first_name": "某"}
    kinds = [message_inbound(upd(fake.message(42, None, **{key: value})), ME)
             for key, value in (("voice", voice), ("sticker", sticker), ("document", document), ("contact", contact))]
    assert [m.attachments[0].kind for m in kinds if m is not None] == ["voice", "sticker", "file", "other"]


def test_what_is_not_for_the_bot_is_none() -> None:
    assert message_inbound(upd({"edited_message": fake.message(42, "改了")["message"]}), ME) is None
    service = fake.message(42, None, chat_id=GROUP, chat_type="group", new_chat_members=[fake.user(5)])
    assert message_inbound(upd(service), ME) is None
    from_bot = fake.message(42, "hi")
    from_bot["message"]["from"] = dict(fake.bot)
    assert message_inbound(upd(from_bot), ME) is None
    channel_post = fake.message(42, "公告", chat_id=-100777, chat_type="channel")
    assert message_inbound(upd(channel_post), ME) is None


def test_callback_data_round_trip_and_press() -> None:
    assert callback_data(123456789012, 2) == "o123456789012.2"
    assert len(callback_data(10**17, 99).encode()) <= 64
    assert parse_callback_data("o17.0") == (17, 0)
    for bad in ("", None, "o17", "x17.0", "o17.0 ", "o-1.0", "o1.2.3", "/ack SJ-1"):
        assert parse_callback_data(bad) is None
    sent = {"message_id": 8, "date": 0, "chat": fake.chat(42), "from": fake.bot, "text": "紧急程度？"}
    press = callback_press(upd(fake.callback(42, "o17.1", sent, query_id="q-1")))
    assert press is not None
    assert (press.outbox_id, press.index, press.chat, press.message_id, press.message_text) == (17, 1, "42", 8, "紧急程度？")
    inbound = press_inbound(press, "紧急")
    assert (inbound.text, inbound.message_id, inbound.chat, inbound.sender) == ("紧急", "cb:q-1", "42", "42")
    assert callback_press(upd(fake.callback(42, "something-else", sent))) is None
