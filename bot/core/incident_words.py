"""The words that make a message look like an incident, and the words that make a report urgent.

One small, documented list each, so the behaviour is predictable and easy to extend:

- `URGENT_WORDS`: a report whose text contains one of these is filed as urgent (紧急) — fire, violence,
  injury, robbery, explosion, gas. "不紧急" / "不急" / "不太急" are removed before the check, so
  "不紧急，门口灯坏了" is not urgent.
- `INCIDENT_WORDS`: a plain message (not a command) containing one of these gets an offer to file a
  report. Every urgent word is an incident word too. The words are specific on purpose ("着火", not
  "火"), so rule questions such as "防火检查几点做" are not taken for incidents.

Matching is by substring on the text with whitespace removed and full-width characters folded.
"""

from __future__ import annotations

import re
import unicodedata

URGENT_WORDS: tuple[str, ...] = (
    "紧急", "着火", "起火", "失火", "火灾", "火警", "冒烟", "爆炸",
    "打架", "斗殴", "打人", "持刀", "拿刀", "动刀", "砍人", "抢劫", "抢东西",
    "受伤", "流血", "晕倒", "昏倒", "昏迷", "不省人事", "触电", "溺水", "跳楼",
    "煤气泄漏", "燃气泄漏", "漏气", "救命", "急救", "打120", "叫120", "叫救护车",
)

INCIDENT_WORDS: tuple[str, ...] = (
    *URGENT_WORDS,
    "翻墙", "翻入", "翻进", "爬墙", "闯入", "强闯", "硬闯",
    "被偷", "被盗", "偷东西", "小偷", "盗窃", "失窃", "丢了东西", "东西丢了", "丢失",
    "被撬", "撬门", "撬锁", "门被撬", "被砸", "砸坏", "砸车", "破坏",
    "可疑人", "陌生人", "形迹可疑", "醉汉", "闹事", "吵架", "纠纷", "骚扰",
    "漏水", "跑水", "水管爆", "爆管", "淹了", "停电", "漏电", "跳闸", "电梯困人", "困在电梯",
    "报警", "出事了", "车被刮", "撞车", "撞了",
)

_NOT_URGENT = re.compile(r"不(太|是很|是|很)?(紧急|急)")
_SPACE = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def is_urgent(text: str) -> bool:
    """Whether a report's text says it is urgent (see URGENT_WORDS)."""
    folded = _NOT_URGENT.sub("", _fold(text))
    return any(word in folded for word in URGENT_WORDS)


def looks_like_incident(text: str) -> bool:
    """Whether a plain message reads like something happening that should be reported."""
    folded = _NOT_URGENT.sub("", _fold(text))
    return any(word in folded for word in INCIDENT_WORDS)
