"""Send-rate limits per channel, kept by the outbox dispatcher (channels declare, the outbox paces).

Each limit is a sliding window ("at most 20 in 60 s"). A channel's `ChannelLimits` says what holds for
the whole channel, for one private chat and for one group chat. `Pacer.reserve` books the earliest
moment a message may go out under every window; a 429-style "retry after" pauses the channel.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Window:
    count: int
    seconds: float


@dataclass(frozen=True)
class ChannelLimits:
    overall: tuple[Window, ...] = ()
    chat: tuple[Window, ...] = ()
    group: tuple[Window, ...] = ()
    # Which chats are groups (Telegram: negative ids; WeCom: robot webhooks).
    is_group: Callable[[str], bool] = field(default=lambda chat: False)


class _Slots:
    """Booked send times under one set of windows."""

    def __init__(self, windows: tuple[Window, ...]):
        self.windows = windows
        longest = max((w.count for w in windows), default=0)
        self.times: deque[float] = deque(maxlen=longest or 1)

    def earliest(self, now: float) -> float:
        at = now
        for w in self.windows:
            if len(self.times) >= w.count:
                # The send `count` places back must have left the window.
                at = max(at, self.times[-w.count] + w.seconds)
        return at

    def book(self, at: float) -> None:
        if self.windows:
            self.times.append(at)


class Pacer:
    def __init__(self, limits: dict[str, ChannelLimits], clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._slots: dict[tuple[str, str], _Slots] = {}
        self._paused_until: dict[str, float] = {}

    def reserve(self, channel: str, chat: str, max_wait: float) -> float:
        """Seconds to wait before sending to `chat`; the slot is booked if that is ≤ max_wait.

        A longer wait books nothing: the caller puts the message back for later instead of holding it.
        """
        limits = self.limits.get(channel)
        if limits is None:
            return 0.0
        now = self.clock()
        per_chat = limits.group if limits.is_group(chat) else limits.chat
        overall = self._get((channel, ""), limits.overall)
        mine = self._get((channel, chat), per_chat)
        at = max(now, self._paused_until.get(channel, 0.0), mine.earliest(now))
        at = max(at, overall.earliest(at))
        wait = at - now
        if wait <= max_wait:
            overall.book(at)
            mine.book(at)
        return wait

    def pause(self, channel: str, seconds: float) -> None:
        """The server said "too many requests, retry after N s": nothing goes out on it until then."""
        self._paused_until[channel] = max(self._paused_until.get(channel, 0.0), self.clock() + seconds)

    def _get(self, key: tuple[str, str], windows: tuple[Window, ...]) -> _Slots:
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = _Slots(windows)
        return slots
