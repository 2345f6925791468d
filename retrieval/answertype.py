"""Answer types: what kind of fact a question asks for, and which clauses state such a fact.

"交了小点子多久有回复" asks for a time span; of the clauses about 小点子 the one that answers it is
the one that states a time ("在3个工作日内给以明确回复"). The question words that say so (多久, 几点,
多少钱 …) are stopwords for matching, so BM25 never sees them; this module reads them from the raw
question and lets the re-ranker prefer the clauses that carry a fact of the asked kind.

Kinds:
  time    多久, 几天, 什么时候, 几点 …  → a number or 每/提前 with a time unit (3个工作日, 每月,
          九点钟, 一周前, 一年一申报)
  money   多少钱, 奖多少, 罚多少, 几块 … → an amount (10元, 罚款, 金额)
  count   几个人, 多少人, 几名 …        → a number of people (7人, 7-9名, 2/3)
  definition  什么意思, 指的是, 啥叫, 什么情况算 … → a definition ("客户投诉:是指…", 称为)
  kinds   分几种, 哪几类, 包括哪些, 都有啥 …  → an enumeration of kinds ("包括经营创新、技术创新和
          管理创新", 分为, 以下)
"""

from __future__ import annotations

import re

_NUM = r"[0-9０-９一二三四五六七八九十百千两半几]"

_ASKS: dict[str, re.Pattern[str]] = {
    "time": re.compile(
        r"多久|多长时间|多长|多少天|几天|几号|几点|几个月|几年|几周|几个工作日|什么时候|啥时候|啥时|哪天|哪一天|期限"
    ),
    "money": re.compile(r"多少钱|几块|多少元|奖多少|罚多少|扣多少钱|给多少|发多少"),
    "count": re.compile(r"几个人|多少人|几人|几名|多少名|几位|多少个人"),
    "kinds": re.compile(r"分几种|分哪几|哪几种|哪几类|几类|几种|分为几|分成几|包括哪些|包含哪些|都有哪些|都有啥|都包括"),
    "definition": re.compile(
        r"定义|什么意思|啥意思|是指|指的是|指的啥|指啥|指什么|什么叫|啥叫|什么是|啥是|(什么|啥|哪些|哪种)情况(下)?算"
    ),
}

_STATES: dict[str, re.Pattern[str]] = {
    "time": re.compile(
        rf"{_NUM}+\s*个?\s*(工作日|天|日|周|星期|月|年|小时|点钟|钟头)|每\s*(天|日|周|月|年)|"
        r"提前|定期|年终|月度|当月"
    ),
    "money": re.compile(rf"{_NUM}+\s*(元|块|万元)|罚款|奖金|金额|费用"),
    "count": re.compile(rf"{_NUM}+\s*(人|名|位)|[0-9]+\s*/\s*[0-9]+"),
    "kinds": re.compile(r"包括|包含|分为|分成|以下"),
    "definition": re.compile(r"^[^,,。:：]{1,12}[:：]\s*是指|是指|指的是|称为|称作|定义为"),
}


def asked(question: str) -> frozenset[str]:
    """The kinds of fact a question asks for (usually none or one)."""
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(question))


def stated(text: str) -> frozenset[str]:
    """The kinds of fact a clause text states."""
    return frozenset(kind for kind, pattern in _STATES.items() if pattern.search(text))
