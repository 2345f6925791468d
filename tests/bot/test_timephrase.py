"""Chinese time phrases → triggers, with a fixed `now` (Friday 2026-11-27 10:00 in Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core import texts
from bot.core.timephrase import (
    DAY_NAMES,
    Once,
    Repeating,
    TimePhraseError,
    aps_trigger,
    cn_number,
    describe,
    from_dict,
    next_fire,
    parse,
    scheduled_time,
    to_dict,
)
from jobs.workdays import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=SH)  # a Friday


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def once(text: str, now: datetime = NOW) -> tuple[datetime, str]:
    result = parse(text, now, SH)
    assert isinstance(result.trigger, Once), result
    assert result.trigger.at.tzinfo is not None
    return result.trigger.at.astimezone(SH), result.message


def repeating(text: str) -> tuple[Repeating, str]:
    result = parse(text, NOW, SH)
    assert isinstance(result.trigger, Repeating), result
    return result.trigger, result.message


def error(text: str, now: datetime = NOW) -> str:
    with pytest.raises(TimePhraseError) as caught:
        parse(text, now, SH)
    return caught.value.message


@pytest.mark.parametrize(("text", "when", "message"), [
    ("明天 09:00 提交月报", local(2026, 11, 28, 9, 0), "提交月报"),
    ("明天9点提交月报", local(2026, 11, 28, 9, 0), "提交月报"),
    ("明天 9点半 交接", local(2026, 11, 28, 9, 30), "交接"),
    ("今天 15:00 开会", local(2026, 11, 27, 15, 0), "开会"),
    ("后天 上午8点 巡查", local(2026, 11, 29, 8, 0), "巡查"),
    ("大后天 7:05 检查", local(2026, 11, 30, 7, 5), "检查"),
    ("今晚8点 关门", local(2026, 11, 27, 20, 0), "关门"),
    ("明早8点 交班", local(2026, 11, 28, 8, 0), "交班"),
    ("明天晚上八点半 查岗", local(2026, 11, 28, 20, 30), "查岗"),
    ("明天下午3点 开会", local(2026, 11, 28, 15, 0), "开会"),
    ("明天中午12点 吃饭", local(2026, 11, 28, 12, 0), "吃饭"),
    ("明天凌晨3点 巡逻", local(2026, 11, 28, 3, 0), "巡逻"),
    ("明天九点三十 例会", local(2026, 11, 28, 9, 30), "例会"),
    ("明天十点一刻 例会", local(2026, 11, 28, 10, 15), "例会"),
    ("下周一 9点 例会", local(2026, 11, 30, 9, 0), "例会"),
    ("下周五 9点 例会", local(2026, 12, 4, 9, 0), "例会"),
    ("下个星期三 14:00 培训", local(2026, 12, 2, 14, 0), "培训"),
    ("下下周一 9点 考核", local(2026, 12, 7, 9, 0), "考核"),
    ("周五 11点 今天的", local(2026, 11, 27, 11, 0), "今天的"),  # today, the time is still ahead
    ("周五 9点 下一个", local(2026, 12, 4, 9, 0), "下一个"),  # today's 9:00 is past → next Friday
    ("星期天 10:00 盘点", local(2026, 11, 29, 10, 0), "盘点"),
    ("礼拜一 8点 开会", local(2026, 11, 30, 8, 0), "开会"),
    ("本周六 9点 加班", local(2026, 11, 28, 9, 0), "加班"),
    ("2026-12-01 09:00 @张三 交表", local(2026, 12, 1, 9, 0), "@张三 交表"),
    ("2026/12/01 9:00 交表", local(2026, 12, 1, 9, 0), "交表"),
    ("2026年12月1日 9点 交表", local(2026, 12, 1, 9, 0), "交表"),
    ("12月1日 9点 交表", local(2026, 12, 1, 9, 0), "交表"),
    ("12月1号9点交表", local(2026, 12, 1, 9, 0), "交表"),
    ("十二月一日 9点 交表", local(2026, 12, 1, 9, 0), "交表"),
    ("11-30 09:00 交表", local(2026, 11, 30, 9, 0), "交表"),
    ("30号 9点 交表", local(2026, 11, 30, 9, 0), "交表"),
    ("3天后 9点 回访", local(2026, 11, 30, 9, 0), "回访"),
    ("下午3点 开会", local(2026, 11, 27, 15, 0), "开会"),
    ("15:30 开会", local(2026, 11, 27, 15, 30), "开会"),
    ("3点 开会", local(2026, 11, 27, 15, 0), "开会"),  # 03:00 is past; a bare 3点 means 15:00
    ("半小时后 巡逻一圈", local(2026, 11, 27, 10, 30), "巡逻一圈"),
    ("10分钟后 查看监控", local(2026, 11, 27, 10, 10), "查看监控"),
    ("五分钟以后 回电话", local(2026, 11, 27, 10, 5), "回电话"),
    ("90分钟后 交班", local(2026, 11, 27, 11, 30), "交班"),
    ("2小时后 巡逻", local(2026, 11, 27, 12, 0), "巡逻"),
    ("两个小时之后 巡逻", local(2026, 11, 27, 12, 0), "巡逻"),
    ("1个半小时后 巡逻", local(2026, 11, 27, 11, 30), "巡逻"),
    ("1小时20分钟后 巡逻", local(2026, 11, 27, 11, 20), "巡逻"),
])
def test_one_off_phrases(text: str, when: datetime, message: str) -> None:
    at, rest = once(text)
    assert (at, rest) == (when, message)


def test_the_rest_is_the_message_with_remind_words_dropped() -> None:
    assert once("明天 9点，提醒我交报表")[1] == "交报表"
    assert once("明天 9点：提交月报")[1] == "提交月报"
    assert once("明天9点3号楼巡逻")[1] == "3号楼巡逻"  # "3号楼" is not the minute
    assert parse("每天 20:45", NOW, SH).message == ""


def test_full_width_digits_and_colon() -> None:
    assert once("明天 ０９：３０ 开会") == (local(2026, 11, 28, 9, 30), "开会")
    assert error("０９：００ 开会").startswith(texts.TP_PAST.format(when="今天 09:00"))


@pytest.mark.parametrize(("text", "fields"), [
    ("每天 20:45 关大门", {"hour": 20, "minute": 45}),
    ("每日 8点 交接", {"hour": 8, "minute": 0}),
    ("天天晚上9点 巡逻", {"hour": 21, "minute": 0}),
    ("每周一 08:30 安全例会", {"hour": 8, "minute": 30, "days_of_week": ("mon",)}),
    ("每周日 10点 盘点", {"hour": 10, "minute": 0, "days_of_week": ("sun",)}),
    ("每星期三 下午2点 培训", {"hour": 14, "minute": 0, "days_of_week": ("wed",)}),
    ("每周一三五 8点 巡查", {"hour": 8, "minute": 0, "days_of_week": ("mon", "wed", "fri")}),
    ("每周一、三、五 8点 巡查", {"hour": 8, "minute": 0, "days_of_week": ("mon", "wed", "fri")}),
    ("每周一至周五 17:30 下班检查", {"hour": 17, "minute": 30, "days_of_week": ("mon", "tue", "wed", "thu", "fri")}),
    ("每周六日 9点 值班", {"hour": 9, "minute": 0, "days_of_week": ("sat", "sun")}),
    ("每周五六点 检查", {"hour": 6, "minute": 0, "days_of_week": ("fri",)}),  # 五 is the day, 六点 the hour
    ("每周一到日 7点 早会", {"hour": 7, "minute": 0}),  # all seven days: every day
    ("工作日 17:30 下班检查", {"hour": 17, "minute": 30, "workdays": True}),
    ("每个工作日8点半 早会", {"hour": 8, "minute": 30, "workdays": True}),
    ("每月20号 09:00 汇总", {"hour": 9, "minute": 0, "day_of_month": 20}),
    ("每月1日 9点 汇总", {"hour": 9, "minute": 0, "day_of_month": 1}),
    ("每个月二十号 9点 汇总", {"hour": 9, "minute": 0, "day_of_month": 20}),
])
def test_repeating_phrases(text: str, fields: dict) -> None:
    trigger, _ = repeating(text)
    assert trigger == Repeating(**fields)


def test_day_names_never_numbers() -> None:
    for text in ("每周一 8点 x", "每周一三五 8点 x", "每周日 8点 x", "每周一至周五 8点 x", "每周六日 8点 x"):
        trigger, _ = repeating(text)
        stored = to_dict(trigger)
        days = stored["day_of_week"].split(",")
        assert set(days) <= set(DAY_NAMES), stored
        assert not any(ch.isdigit() for ch in stored["day_of_week"])
        assert "day_of_week='" + stored["day_of_week"] + "'" in str(aps_trigger(trigger, SH))
        assert from_dict(stored) == trigger
    # APScheduler counts 0 = Monday: a number could be read either way, so it is refused outright.
    with pytest.raises(ValueError):
        from_dict({"type": "cron", "day_of_week": "0", "hour": 8, "minute": 0})
    with pytest.raises(ValueError):
        from_dict({"type": "cron", "day_of_week": "1-5", "hour": 8, "minute": 0})


def test_next_fire_lands_on_the_named_day() -> None:
    monday, _ = repeating("每周一 08:30 x")
    when = next_fire(monday, NOW, SH)
    assert when is not None and when.astimezone(SH) == local(2026, 11, 30, 8, 30)
    assert when.astimezone(SH).weekday() == 0
    sunday, _ = repeating("每周日 08:30 x")
    when = next_fire(sunday, NOW, SH)
    assert when is not None and when.astimezone(SH) == local(2026, 11, 29, 8, 30)
    three, _ = repeating("每周一三五 8点 x")
    runs = []
    after = NOW
    for _ in range(4):
        when = next_fire(three, after, SH)
        assert when is not None
        runs.append(when.astimezone(SH))
        after = when + timedelta(seconds=1)
    assert [r.strftime("%a %d %H:%M") for r in runs] == ["Mon 30 08:00", "Wed 02 08:00", "Fri 04 08:00",
                                                          "Mon 07 08:00"]


def test_next_fire_of_working_days_follows_the_calendar() -> None:
    trigger, _ = repeating("工作日 17:30 x")
    calendar = WorkCalendar({date(2026, 11, 28): True, date(2026, 11, 30): False})  # a 调休 Saturday; a day off
    first = next_fire(trigger, local(2026, 11, 27, 18, 0), SH, calendar.is_workday)
    assert first is not None and first.astimezone(SH) == local(2026, 11, 28, 17, 30)
    second = next_fire(trigger, first + timedelta(seconds=1), SH, calendar.is_workday)
    assert second is not None and second.astimezone(SH) == local(2026, 12, 1, 17, 30)


def test_crossing_month_and_year() -> None:
    eve = local(2026, 12, 31, 22, 0)
    assert once("明天 09:00 元旦值班", eve)[0] == local(2027, 1, 1, 9, 0)
    assert once("半小时后 x", local(2026, 12, 31, 23, 50))[0] == local(2027, 1, 1, 0, 20)
    assert once("下周一 9点 x", eve)[0] == local(2027, 1, 4, 9, 0)
    assert once("1月5日 9:00 x", NOW)[0] == local(2027, 1, 5, 9, 0)  # January is past this year
    assert once("11月26日 9:00 x", NOW)[0] == local(2027, 11, 26, 9, 0)  # yesterday → next year
    assert once("31号 9点 x", NOW)[0] == local(2026, 12, 31, 9, 0)  # November has no 31st
    assert once("2号 9点 x", eve)[0] == local(2027, 1, 2, 9, 0)
    monthly, _ = repeating("每月31号 09:00 x")
    when = next_fire(monthly, NOW, SH)
    assert when is not None and when.astimezone(SH) == local(2026, 12, 31, 9, 0)
    when = next_fire(monthly, when + timedelta(seconds=1), SH)
    assert when is not None and when.astimezone(SH) == local(2027, 1, 31, 9, 0)
    when = next_fire(monthly, when + timedelta(seconds=1), SH)
    assert when is not None and when.astimezone(SH) == local(2027, 3, 31, 9, 0)  # no 31 Feb
    assert parse("每月31号 09:00 x", NOW, SH).note == texts.TP_NOTE_MONTH_END.format(day=31)


def test_past_times_are_refused() -> None:
    assert error("09:00 开会").startswith("这个时间已经过去了")
    assert "明天 09:00" in error("09:00 开会")  # the hint says how to mean tomorrow
    assert error("今天 8点 开会").startswith("这个时间已经过去了")
    assert error("2026-11-27 08:00 开会").startswith("这个时间已经过去了")
    assert error("本周四 9点 开会").startswith("这个时间已经过去了")
    assert error("2025-12-01 9点 开会").startswith("这个时间已经过去了")
    assert error("今天 10:00 开会").startswith("这个时间已经过去了")  # this very minute is not ahead


def test_too_far_ahead_is_refused() -> None:
    assert "一年以内" in error("2027-12-31 09:00 x")
    assert "一年以内" in error("2月29日 9点 x")  # the next 29 February is in 2028


@pytest.mark.parametrize(("text", "named"), [
    ("blah 提交月报", "blah"),
    ("下班后 提交", "下班后"),
    ("明天 提交月报", "明天"),
    ("每天 关大门", "每天"),
    ("每周一 开会", "每周一"),
    ("明天上午 开会", "明天上午"),
    ("下午 开会", "下午"),
    ("每周八 9点 开会", "每周八"),
    ("下周 9点 开会", "下周"),
    ("2月30日 9点 开会", "2月30日"),
    ("13月1日 9点 开会", "13月1日"),
    ("明天 25:00 开会", "明天 25:00"),
    ("明天 9点60分 开会", "明天 9点60分"),
    ("每月 9点 汇总", "每月"),
    ("每月40号 9点 汇总", "每月40号"),
    ("0分钟后 开会", "0分钟后"),
    ("晚上12点 开会", "晚上12点"),
])
def test_wrong_phrases_name_what_was_not_understood(text: str, named: str) -> None:
    message = error(text)
    assert f"“{named}”" in message, message


def test_empty_text() -> None:
    assert error("   ") == texts.TP_EMPTY


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse("明天 9点 x", datetime(2026, 11, 27, 10, 0), SH)


def test_result_is_utc_and_pure() -> None:
    result = parse("明天 09:00 提交月报", NOW.astimezone(UTC), SH)
    assert isinstance(result.trigger, Once)
    assert result.trigger.at == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert result.trigger.at.tzinfo == UTC
    assert parse("明天 09:00 提交月报", NOW.astimezone(UTC), SH) == result
    assert to_dict(result.trigger) == {"type": "date", "run_at": "2026-11-28T01:00:00+00:00"}
    assert from_dict(to_dict(result.trigger)) == result.trigger


def test_describe() -> None:
    assert describe(repeating("每天 20:45 x")[0], SH) == "每天 20:45"
    assert describe(repeating("每周一三五 8点 x")[0], SH) == "每周一、三、五 08:00"
    assert describe(repeating("每周一至周五 8点 x")[0], SH) == "每周一至周五 08:00"
    assert describe(repeating("工作日 17:30 x")[0], SH) == "工作日 17:30"
    assert describe(repeating("每月20号 9点 x")[0], SH) == "每月20号 09:00"
    assert describe(parse("明天 9点 x", NOW, SH).trigger, SH, NOW) == "11月28日（周六）09:00"
    assert describe(parse("1月5日 9点 x", NOW, SH).trigger, SH, NOW) == "2027年1月5日（周二）09:00"


def test_scheduled_time_names_the_firing_a_late_run_stands_for() -> None:
    daily, _ = repeating("每天 20:45 x")
    assert scheduled_time(daily, local(2026, 11, 27, 20, 45), SH) == local(2026, 11, 27, 20, 45)
    assert scheduled_time(daily, local(2026, 11, 27, 21, 10), SH) == local(2026, 11, 27, 20, 45)
    assert scheduled_time(daily, local(2026, 11, 27, 20, 44), SH) == local(2026, 11, 26, 20, 45)
    one = parse("明天 9点 x", NOW, SH).trigger
    assert scheduled_time(one, NOW, SH) == local(2026, 11, 28, 9, 0)


def test_chinese_numbers() -> None:
    assert [cn_number(t) for t in ("9", "九", "十", "十二", "二十", "二十三", "三十一", "两", "零")] == \
        [9, 9, 10, 12, 20, 23, 31, 2, 0]
    assert cn_number("十十") is None and cn_number("九九") is None and cn_number("两十") is None
