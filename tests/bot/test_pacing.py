"""The pacer books send slots under sliding windows; a fake clock makes it exact."""

from __future__ import annotations

from bot.pacing import ChannelLimits, Pacer, Window


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


LIMITS = ChannelLimits(overall=(Window(3, 1.0),), chat=(Window(1, 1.0),), group=(Window(2, 60.0),),
                       is_group=lambda chat: chat.startswith("-"))


def test_one_chat_gets_one_message_a_second() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS}, clock=ticks)
    waits = [pacer.reserve("tg", "42", max_wait=10) for _ in range(3)]
    assert waits == [0.0, 1.0, 2.0]


def test_the_overall_window_spreads_many_chats() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS}, clock=ticks)
    waits = [pacer.reserve("tg", str(chat), max_wait=10) for chat in range(7)]
    # 3 per second overall: three now, three a second later, one two seconds later.
    assert waits == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]


def test_groups_have_their_own_slower_window() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS}, clock=ticks)
    assert [pacer.reserve("tg", "-100", max_wait=100) for _ in range(3)] == [0.0, 0.0, 60.0]


def test_a_long_wait_books_nothing() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS}, clock=ticks)
    assert pacer.reserve("tg", "-100", max_wait=5) == 0.0
    assert pacer.reserve("tg", "-100", max_wait=5) == 0.0
    assert pacer.reserve("tg", "-100", max_wait=5) == 60.0  # not booked ...
    assert pacer.reserve("tg", "-100", max_wait=5) == 60.0  # ... so the next one waits the same


def test_slots_free_up_as_time_passes() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS}, clock=ticks)
    pacer.reserve("tg", "42", max_wait=10)
    ticks.now += 1.5
    assert pacer.reserve("tg", "42", max_wait=10) == 0.0


def test_pause_holds_the_whole_channel() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": LIMITS, "wecom": ChannelLimits()}, clock=ticks)
    pacer.pause("tg", 7)
    assert pacer.reserve("tg", "1", max_wait=10) == 7.0
    assert pacer.reserve("tg", "2", max_wait=10) == 7.0
    assert pacer.reserve("wecom", "1", max_wait=10) == 0.0  # other channels are not held


def test_a_channel_without_limits_never_waits() -> None:
    pacer = Pacer({}, clock=Ticks())
    assert all(pacer.reserve("console", "c", max_wait=0) == 0.0 for _ in range(100))
