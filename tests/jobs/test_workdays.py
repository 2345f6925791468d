"""Working days and complaint due dates: fixed dates, an injected last-known year, real seed parsing."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobs import workdays
from jobs.workdays import (
    ComplaintRules,
    WorkCalendar,
    add_working_days,
    check_workday_seeds,
    complaint_due_at,
    load_rules,
    parse_holidays,
    parse_rules,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL_2026 = WorkCalendar(last_known_year=2026)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


# --- add_working_days: the 2026 Spring Festival (Feb 15–23 off, Saturday Feb 14 worked in lieu)


def test_day_one_is_the_first_working_day_after_the_start() -> None:
    assert CAL_2026.add_working_days(date(2026, 2, 12), 1) == date(2026, 2, 13)  # Thu → Fri


def test_make_up_saturday_counts_and_the_holiday_span_does_not() -> None:
    assert CAL_2026.is_workday(date(2026, 2, 14))  # Saturday, 调休上班
    assert not CAL_2026.is_workday(date(2026, 2, 16))  # Monday in the holiday
    assert CAL_2026.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL_2026.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert CAL_2026.add_working_days(date(2026, 2, 14), 3) == date(2026, 2, 26)


def test_filed_on_a_holiday_counts_from_the_first_working_day_after() -> None:
    assert CAL_2026.add_working_days(date(2026, 2, 18), 1) == date(2026, 2, 24)


def test_zero_days_is_the_same_day_or_the_next_working_day() -> None:
    assert CAL_2026.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 14)
    assert CAL_2026.add_working_days(date(2026, 2, 15), 0) == date(2026, 2, 24)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        CAL_2026.add_working_days(date(2026, 2, 14), -1)


def test_module_function_takes_a_calendar() -> None:
    assert add_working_days(date(2026, 2, 13), 2, CAL_2026) == date(2026, 2, 24)


# --- beyond the package's last year: Monday–Friday plus the override file


def test_crossing_into_an_unknown_year_falls_back_to_weekdays() -> None:
    # Dec 29, 30, 31 (2026 data), then Fri Jan 1 2027 (no data: a weekday), Mon Jan 4.
    assert CAL_2026.add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 4)


def test_override_file_entries_win_beyond_the_last_year() -> None:
    overrides, problems = parse_holidays("2027-01-01 元旦 休\n2027-01-09 调休上班 班\n", "holidays.txt")
    assert problems == []
    calendar = WorkCalendar(overrides, last_known_year=2026)
    assert calendar.add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 5)
    assert calendar.is_workday(date(2027, 1, 9))  # a Saturday marked 班
    assert calendar.add_working_days(date(2027, 1, 8), 1) == date(2027, 1, 9)


def test_injected_last_year_makes_a_known_year_fall_back(caplog: pytest.LogCaptureFixture) -> None:
    calendar = WorkCalendar(last_known_year=2025)
    with caplog.at_level(logging.WARNING, logger="jobs.workdays"):
        assert not calendar.is_workday(date(2026, 2, 14))  # Saturday: no 2026 data any more
        assert calendar.is_workday(date(2026, 2, 16))  # Monday: the holiday is unknown
        assert calendar.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 16)
    warnings = [r for r in caplog.records if "2026" in r.getMessage()]
    assert len(warnings) == 1  # once per year, however many days are asked


def test_override_also_corrects_a_known_year() -> None:
    calendar = WorkCalendar({date(2026, 2, 24): False}, last_known_year=2026)
    assert calendar.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 25)


def test_a_calendar_without_working_days_is_an_error_not_a_hang() -> None:
    start = date(2027, 1, 1)
    overrides = {date.fromordinal(start.toordinal() + i): False for i in range(400)}
    with pytest.raises(ValueError):
        WorkCalendar(overrides, last_known_year=2026).add_working_days(start, 1)


# --- holidays.txt format


def test_holiday_file_format_spans_comments_and_words() -> None:
    raw = (
        "\ufeff# 注释\n"
        "\n"
        "2027-10-01~2027-10-03 国庆 休  # 行尾注释\n"
        "2027/02/20 班\n"
        "２０２７－０２－２１ 调休 上班\n"  # full-width digits typed with a Chinese IME
    )
    overrides, problems = parse_holidays(raw, "holidays.txt")
    assert problems == []
    assert overrides == {
        date(2027, 10, 1): False, date(2027, 10, 2): False, date(2027, 10, 3): False,
        date(2027, 2, 20): True, date(2027, 2, 21): True,
    }


def test_holiday_file_problems_carry_line_numbers() -> None:
    raw = (
        "2027-01-01 元旦 休\n"
        "2027-13-01 休\n"  # 2: no such month
        "2027-01-02 元旦\n"  # 3: neither 休 nor 班
        "2027-01-03\n"  # 4: too short
        "2027-02-10~2027-02-01 休\n"  # 5: backwards span
        "2027-01-01 班\n"  # 6: contradicts line 1
        "2027-05-01 劳动节 休\n"
    )
    overrides, problems = parse_holidays(raw, "holidays.txt")
    assert [p.line for p in problems] == [2, 3, 4, 5, 6]
    assert all(p.line > 0 and not p.message.startswith("第") for p in problems)
    assert "第 1 行" in problems[-1].message
    # the good lines still count
    assert overrides == {date(2027, 1, 1): False, date(2027, 5, 1): False}


# --- complaints.toml


GOOD_RULES = """\
end_of_day = "17:30"
other = "其他"

[[category]]
name = "服务态度"
days = 3

[[category]]
name = "安全"
days = 1

[[category]]
name = "其他"
days = 5
"""


def test_rules_parse_in_file_order() -> None:
    rules, problems = parse_rules(GOOD_RULES, "complaints.toml")
    assert problems == []
    assert rules is not None
    assert list(rules.days) == ["服务态度", "安全", "其他"]
    assert rules.end_of_day == time(17, 30)
    assert rules.days_for("安全") == 1
    assert rules.days_for("不存在的分类") == 5
    assert rules.days_for(None) == 5


def test_rules_toml_syntax_error_has_its_line() -> None:
    broken = GOOD_RULES.replace('name = "安全"', "name = 安全")
    rules, problems = parse_rules(broken, "complaints.toml")
    assert rules is None
    assert len(problems) == 1
    assert problems[0].line == 9
    assert problems[0].line == 9 and problems[0].message.startswith("写法不对")


def test_rules_semantic_problems_have_their_lines() -> None:
    broken = (
        'end_of_day = "25:00"\n'  # 1
        'other = "杂项"\n'  # 2
        "colour = 1\n"  # 3
        "[[category]]\n"  # 4
        'name = "服务态度"\n'  # 5
        "days = -1\n"  # 6
        "[[category]]\n"  # 7
        'name = "安全"\n'  # 8
        "days = 1\n"  # 9
        "[[category]]\n"  # 10
        'name = "安全"\n'  # 11
        "days = 2\n"  # 12
        "[[category]]\n"  # 13
        "days = 2\n"  # 14
    )
    rules, problems = parse_rules(broken, "complaints.toml")
    assert rules is None
    assert [p.line for p in problems] == [1, 3, 6, 11, 13]
    assert "end_of_day" in problems[0].message
    assert "colour" in problems[1].message
    assert "days" in problems[2].message
    assert "重复" in problems[3].message
    assert "name" in problems[4].message


def test_other_must_name_a_category() -> None:
    rules, problems = parse_rules(GOOD_RULES.replace('other = "其他"', 'other = "杂项"'), "c.toml")
    assert rules is None
    assert [p.line for p in problems] == [2]
    assert "杂项" in problems[0].message


def test_shipped_seeds_are_valid() -> None:
    assert check_workday_seeds(SEEDS) == []
    assert workdays.categories(SEEDS) == ["服务态度", "设施设备", "环境卫生", "安全", "收费", "其他"]


def test_seeds_check_reports_these_files(tmp_path: Path) -> None:
    from bot.seedcheck import check_seeds

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    (seeds / "complaints.toml").write_text(GOOD_RULES.replace("days = 3", "days = 三"), encoding="utf-8")
    (seeds / "holidays.txt").write_text("2027-01-01 元旦\n", encoding="utf-8")
    problems = [p for p in check_seeds(seeds) if Path(p.file).name in ("complaints.toml", "holidays.txt")]
    assert {(Path(p.file).name, p.line) for p in problems} == {("complaints.toml", 6), ("holidays.txt", 1)}


# --- complaint_due_at


RULES = ComplaintRules(days={"服务态度": 3, "安全": 1, "其他": 5}, end_of_day=time(17, 30), other="其他")


def test_due_at_is_the_end_of_the_due_working_day_in_utc() -> None:
    due = complaint_due_at("服务态度", local(2026, 2, 13, 16, 0), SHANGHAI, rules=RULES, calendar=CAL_2026)
    assert due == local(2026, 2, 25, 17, 30)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 2, 25, 9, 30, tzinfo=UTC)


def test_due_at_counts_from_the_local_filing_day() -> None:
    filed = datetime(2026, 2, 12, 16, 30, tzinfo=UTC)  # Friday Feb 13, 00:30 in Shanghai
    due = complaint_due_at("安全", filed, SHANGHAI, rules=RULES, calendar=CAL_2026)
    assert due == local(2026, 2, 14, 17, 30)


def test_complaint_filed_late_december_is_due_in_january() -> None:
    calendar = WorkCalendar({date(2027, 1, 1): False}, last_known_year=2026)
    due = complaint_due_at("其他", local(2026, 12, 28, 10, 0), SHANGHAI, rules=RULES, calendar=calendar)
    assert due == local(2027, 1, 5, 17, 30)


def test_due_at_reads_the_seed_files(tmp_path: Path) -> None:
    (tmp_path / "complaints.toml").write_text(GOOD_RULES.replace('"17:30"', '"18:00"'), encoding="utf-8")
    (tmp_path / "holidays.txt").write_text("2026-02-24 临时放假 休\n", encoding="utf-8")
    due = complaint_due_at("安全", local(2026, 2, 14, 9, 0), SHANGHAI, tmp_path)
    assert due == local(2026, 2, 25, 18, 0)
    assert workdays.categories(tmp_path) == ["服务态度", "安全", "其他"]


def test_a_broken_rules_file_keeps_the_last_good_rules(tmp_path: Path) -> None:
    path = tmp_path / "complaints.toml"
    path.write_text(GOOD_RULES, encoding="utf-8")
    assert load_rules(tmp_path).days["安全"] == 1
    path.write_text(GOOD_RULES.replace("days = 1", "days = 一天 # broken"), encoding="utf-8")
    assert load_rules(tmp_path).days["安全"] == 1
    path.write_text(GOOD_RULES.replace("days = 1", "days = 2"), encoding="utf-8")
    assert load_rules(tmp_path).days["安全"] == 2


def test_naive_filing_time_is_refused() -> None:
    with pytest.raises(ValueError):
        complaint_due_at("安全", datetime(2026, 2, 13, 9, 0), SHANGHAI, rules=RULES, calendar=CAL_2026)
