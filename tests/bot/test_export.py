"""导出: date ranges, the CSV and XLSX files (read back with csv and openpyxl), private chats only."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from bot.app import App
from bot.channels.console import ConsoleSender
from bot.core import texts
from bot.core.messages import Document, Inbound, Outbound
from bot.export import RangeError, neutralize, parse_range
from tests.bot.test_manage import add_person, file, text_of
from tests.support import Clock, RecordingChannel, deliver, say

TODAY = date(2026, 11, 27)
MGR = "u-王经理"
BOM = b"\xef\xbb\xbf"


# --- dates


@pytest.mark.parametrize(("typed", "expected"), [
    ("", (date(2026, 11, 1), TODAY)),
    ("2026-11-01 2026-11-30", (date(2026, 11, 1), date(2026, 11, 30))),
    ("11-01 11-30", (date(2026, 11, 1), date(2026, 11, 30))),
    ("11月1日 11月30日", (date(2026, 11, 1), date(2026, 11, 30))),
    ("11月1号到11月5号", (date(2026, 11, 1), date(2026, 11, 5))),
    ("2026/11/01 至 2026/11/03", (date(2026, 11, 1), date(2026, 11, 3))),
    ("2026年10月", (date(2026, 10, 1), date(2026, 10, 31))),
    ("11月", (date(2026, 11, 1), date(2026, 11, 30))),
    ("11-05", (date(2026, 11, 5), date(2026, 11, 5))),
    ("１１－０１ １１－３０", (date(2026, 11, 1), date(2026, 11, 30))),  # full-width, typed with an IME
    ("12-01 12-31", (date(2025, 12, 1), date(2025, 12, 31))),  # a month not come yet: last year's
    ("12-15 01-10", (date(2025, 12, 15), date(2026, 1, 10))),
])
def test_date_ranges(typed: str, expected: tuple[date, date]) -> None:
    assert parse_range(typed, TODAY) == expected


@pytest.mark.parametrize("typed", ["abc", "2-30", "2026-13-01", "13月", "11-01 11-30 12-01", "昨天"])
def test_malformed_dates(typed: str) -> None:
    assert isinstance(parse_range(typed, TODAY), RangeError)


def test_backwards_range_is_reported_as_such() -> None:
    result = parse_range("11-30 11-01", TODAY)
    assert isinstance(result, RangeError)
    assert result.backwards == (date(2026, 11, 30), date(2026, 11, 1))


def test_neutralize() -> None:
    for bad in ("=1+2", "+86 138", "-1楼", "@SUM(A1)", "\t=1", "\rx"):
        assert neutralize(bad) == "'" + bad
    for fine in ("", "门锁坏了", "1楼", "a=b"):
        assert neutralize(fine) == fine


# --- through the core


@pytest.fixture()
def staff(app: App) -> dict[str, int]:
    return {
        "guard": add_person(app, "张三", "guard"),
        "clerk": add_person(app, "李四", "clerk"),
        "manager": add_person(app, "王经理", "manager"),
    }


def at(clock: Clock, iso: str) -> None:
    clock.now = datetime.fromisoformat(iso).astimezone(UTC)


def documents(channel: RecordingChannel, chat: str) -> list[Document]:
    return [out.document for out, _ in channel.sent if out.to == chat and out.document is not None]


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(BOM)
    return list(csv.reader(io.StringIO(content[len(BOM):].decode("utf-8"), newline="")))


def read_xlsx(content: bytes) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"  # never a formula
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def test_export_writes_csv_and_xlsx_of_the_range(
    app: App, staff: dict[str, int], clock: Clock, channel: RecordingChannel
) -> None:
    at(clock, "2026-10-31T23:59:00+08:00")
    file(app, staff["guard"], "十月的最后一件")
    at(clock, "2026-11-01T00:00:00+08:00")
    first = file(app, staff["guard"], "=HYPERLINK(\"http://x\",\"点我\")", urgent=True, location="-1楼车库")
    at(clock, "2026-11-15T09:00:00+08:00")
    second = file(app, staff["clerk"], "前台态度差，\n客户很生气", kind="complaint", category="服务态度",
                  customer="@陈女士", contact="+86 13800000000",
                  due_at=datetime.fromisoformat("2026-11-18T17:30:00+08:00"))
    say(app, MGR, f"受理 {second}")
    say(app, MGR, f"指派 {second} 李四")
    say(app, MGR, f"解决 {second} =已道歉")
    at(clock, "2026-11-30T23:59:00+08:00")
    third = file(app, staff["guard"], "月底最后一件")
    at(clock, "2026-12-01T00:01:00+08:00")
    file(app, staff["guard"], "十二月的第一件")
    at(clock, "2026-12-02T10:00:00+08:00")
    channel.clear()

    replies = say(app, MGR, "导出 2026-11-01 2026-11-30")
    assert [out.document.name for out in replies if out.document] == [
        "records_20261101-20261130.csv", "records_20261101-20261130.xlsx"]
    assert "共 3 条记录" in replies[0].text
    sent = documents(channel, MGR)  # delivered through the outbox with the bytes intact
    assert [d.name for d in sent] == ["records_20261101-20261130.csv", "records_20261101-20261130.xlsx"]

    for rows in (read_csv(sent[0].content), read_xlsx(sent[1].content)):
        assert rows[0] == list(texts.MG_EXPORT_COLUMNS)
        body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
        assert [r["编号"] for r in body] == [first, second, third]
        one, two, three = body
        assert one["内容"] == "'=HYPERLINK(\"http://x\",\"点我\")"
        assert one["地点"] == "'-1楼车库"
        assert (one["类型"], one["紧急"], one["状态"], one["提交人"]) == ("事件", "是", "登记", "张三")
        assert one["登记时间"] == "2026-11-01 00:00"
        assert two["内容"] == "前台态度差，\n客户很生气"
        assert (two["客户"], two["联系方式"]) == ("'@陈女士", "'+86 13800000000")
        assert (two["类型"], two["状态"], two["分类"], two["处理人"]) == ("投诉", "已解决", "服务态度", "李四")
        assert two["处理结果"] == "'=已道歉"
        assert two["确认时间"] == "2026-11-15 09:00"
        assert two["期限"] == "2026-11-18 17:30"
        assert three["登记时间"] == "2026-11-30 23:59"
        assert three["关闭时间"] == "" and three["处理人"] == ""


def test_export_defaults_to_this_month_so_far(
    app: App, staff: dict[str, int], clock: Clock, channel: RecordingChannel
) -> None:
    at(clock, "2026-10-20T10:00:00+08:00")
    file(app, staff["guard"], "上个月的")
    at(clock, "2026-11-03T10:00:00+08:00")
    number = file(app, staff["guard"], "这个月的")
    at(clock, "2026-11-27T10:00:00+08:00")
    replies = say(app, "u-王经理", "/export")
    assert "2026年11月1日–2026年11月27日 共 1 条记录" in replies[0].text
    rows = read_csv(documents(channel, MGR)[0].content)
    assert [row[0] for row in rows[1:]] == [number]


def test_export_only_in_private_chat(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    file(app, staff["guard"])
    inbound = Inbound(channel="test", sender=MGR, chat="group-1", text="导出", is_group=True)
    replies = app.core.handle(inbound)
    deliver(app)
    assert text_of(replies) == texts.MG_EXPORT_PRIVATE_ONLY
    assert all(out.document is None for out, _ in channel.sent)


def test_export_bad_input(app: App, staff: dict[str, int], channel: RecordingChannel) -> None:
    reply = text_of(say(app, MGR, "导出 上个月"))
    assert "没看懂日期“上个月”" in reply and "导出 2026-11-01 2026-11-30" in reply
    assert "晚于结束日期" in text_of(say(app, MGR, "导出 11-30 11-01"))
    assert "没有登记的事件和投诉" in text_of(say(app, MGR, "导出 2026-01-01 2026-01-31"))
    assert text_of(say(app, "u-张三", "导出")) == texts.NOT_ALLOWED
    assert all(out.document is None for out, _ in channel.sent)


def test_xlsx_drops_characters_it_cannot_hold(
    app: App, staff: dict[str, int], channel: RecordingChannel
) -> None:
    file(app, staff["guard"], "门锁\x0b坏了\x1b")
    say(app, MGR, "导出")
    rows = read_xlsx(documents(channel, MGR)[1].content)
    assert rows[1][4] == "门锁坏了"


def test_console_saves_documents_under_the_export_dir(tmp_path: Path) -> None:
    out = io.StringIO()
    sender = ConsoleSender(out, tmp_path / "exports")
    document = Document("../records_20261101-20261130.csv", BOM + "编号\r\n".encode())
    asyncio.run(sender.send(Outbound("console", "console", "导出完成", document=document), None))
    saved = tmp_path / "exports" / "records_20261101-20261130.csv"
    assert saved.read_bytes() == document.content
    assert out.getvalue().splitlines() == ["导出完成", f"📎 已保存：{saved}"]
