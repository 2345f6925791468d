"""Pure parts: hardened XML, message → Inbound with dedupe keys, byte splitting, buttons as numbers."""

from __future__ import annotations

import pytest

from bot.channels.wecom.convert import convert
from bot.channels.wecom.menu import command_for_key, menu_json
from bot.channels.wecom.sender import render
from bot.channels.wecom.split import split_bytes, utf8_len
from bot.channels.wecom.xml import XmlError, message, parse
from bot.core.messages import Attachment, Button, Outbound
from tests.channels.wecom.support import event, text_msg


def test_xml_fields_and_nested_blocks() -> None:
    raw = ("<xml><FromUserName><![CDATA[zhangsan]]></FromUserName><MsgType>event</MsgType>"
           "<Event>location_select</Event><SendLocationInfo><Location_X>23.1</Location_X>"
           "<Location_Y>113.3</Location_Y><Label><![CDATA[东门]]></Label></SendLocationInfo></xml>")
    fields = parse(raw.encode())
    assert fields["FromUserName"] == "zhangsan" and fields["Location_X"] == "23.1" and fields["Label"] == "东门"
    assert parse(message({"Content": "a]]>b <c>"}))["Content"] == "a]]>b <c>"


@pytest.mark.parametrize("raw", [
    b"<xml><a>1</a>",  # truncated
    b"not xml",
    b"<other><a>1</a></other>",
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',  # DTD / entities
    b'<!DOCTYPE xml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><xml><c>&b;</c></xml>',  # expansion
    b"<xml>" + b"<a>1</a>" * 40000 + b"</xml>",  # too large
])
def test_malformed_or_hostile_xml_is_refused(raw: bytes) -> None:
    with pytest.raises(XmlError):
        parse(raw)


def test_text_image_location_become_inbound() -> None:
    text = convert(text_msg("zhangsan", "门禁卡丢了怎么办", msg_id="123"))
    assert text is not None
    assert (text.inbound.channel, text.inbound.sender, text.inbound.chat, text.inbound.text,
            text.inbound.message_id) == ("wecom", "zhangsan", "zhangsan", "门禁卡丢了怎么办", "123")
    assert text.key == "wecom:msg:1000002:zhangsan:123"
    image = convert({**text_msg("zhangsan", "", msg_id="124"), "MsgType": "image", "MediaId": "MID",
                     "PicUrl": "http://p"})
    assert image is not None and image.inbound.attachments == (Attachment("photo", "MID"),)
    where = convert({**text_msg("zhangsan", "", msg_id="125"), "MsgType": "location", "Location_X": "23.13",
                     "Location_Y": "113.26", "Scale": "15", "Label": "东门"})
    assert where is not None and where.inbound.attachments == (Attachment("location", "23.13,113.26"),)


def test_events() -> None:
    greet = convert(event("zhangsan", "enter_agent"))
    assert greet is not None and greet.inbound.text == "/start"
    sub = convert(event("zhangsan", "subscribe"))
    assert sub is not None and sub.inbound.text == "/start"
    click = convert(event("zhangsan", "click", "report"))
    assert click is not None and click.inbound.text == "/report"
    assert click.inbound.message_id.startswith("ev-")
    picked = convert(event("zhangsan", "location_select", "pick", Location_X="23.1", Location_Y="113.3"))
    assert picked is not None and picked.inbound.attachments == (Attachment("location", "23.1,113.3"),)
    assert convert(event("zhangsan", "location_select", "pick", Location_X="23.1")) is None  # half a place
    scanned = convert(event("zhangsan", "scancode_waitmsg", "scan", ScanResult="东门岗"))
    assert scanned is not None and scanned.inbound.text == "东门岗"
    # LOCATION reports (every 5 s), unsubscribe, views, unknown keys and types: acknowledged, not handled.
    assert convert(event("zhangsan", "LOCATION", Latitude="23.1", Longitude="113.3", Precision="30")) is None
    assert convert(event("zhangsan", "unsubscribe")) is None
    assert convert(event("zhangsan", "click", "no-such-key")) is None
    assert convert(event("zhangsan", "sys_approval_change")) is None
    assert convert({**text_msg("zhangsan", ""), "MsgType": "shiny_new_type"}) is None
    assert convert(event("sys", "click", "report")) is None


def test_distinct_events_in_one_second_have_distinct_keys_and_retries_equal_ones() -> None:
    a = convert(event("zhangsan", "click", "report", create_time="1764200000"))
    b = convert(event("zhangsan", "click", "checkin", create_time="1764200000"))
    c = convert(event("zhangsan", "enter_agent", create_time="1764200000"))
    again = convert(event("zhangsan", "click", "report", create_time="1764200000"))
    other_app = convert({**event("zhangsan", "click", "report", create_time="1764200000"), "AgentID": "1000003"})
    assert a and b and c and again and other_app
    assert len({a.key, b.key, c.key, other_app.key}) == 4
    assert len({a.inbound.message_id, b.inbound.message_id, c.inbound.message_id}) == 3
    assert (again.key, again.inbound.message_id) == (a.key, a.inbound.message_id)


def test_split_by_bytes_on_lines_and_clauses_never_mid_character() -> None:
    assert split_bytes("短", 2048) == ["短"]
    assert split_bytes("", 2048) == [""]
    lines = "\n".join(f"第{i}条：夜间巡逻每两小时一次，发现异常立即上报。" for i in range(200))
    parts = split_bytes(lines, 2048)
    assert len(parts) > 1 and all(utf8_len(p) <= 2048 for p in parts)
    assert "\n".join(parts) == lines  # cut at line ends only
    no_lines = "夜间巡逻每两小时一次，发现异常立即上报。" * 200
    parts = split_bytes(no_lines, 2048)
    assert all(utf8_len(p) <= 2048 for p in parts) and "".join(parts) == no_lines
    assert all(p.endswith(("，", "。")) for p in parts[:-1])
    solid = "值" * 1000  # no boundary at all: cut between characters
    parts = split_bytes(solid, 2048)
    assert [utf8_len(p) for p in parts] == [2046, 954] and "".join(parts) == solid
    emoji = "🚨" * 600  # 4-byte characters
    assert all(utf8_len(p) <= 2048 for p in split_bytes(emoji, 2048))
    assert "".join(split_bytes(emoji, 2048)) == emoji


def test_buttons_render_as_numbered_choices() -> None:
    out = Outbound("wecom", "zhangsan", "紧急吗？", (Button("一般", "一般"), Button("紧急", "紧急")))
    assert render(out) == "紧急吗？\n回复数字选择：1. 一般 2. 紧急"
    assert render(Outbound("wecom", "zhangsan", "好的")) == "好的"


def test_menu_keys_are_commands() -> None:
    keys = [sub["key"] for top in menu_json()["button"] for sub in top["sub_button"]]
    assert {"report", "complain", "handover", "checkin"} <= set(keys)
    assert all(command_for_key(k) == f"/{k}" for k in keys)
    assert len(menu_json()["button"]) <= 3 and all(len(t["sub_button"]) <= 5 for t in menu_json()["button"])
