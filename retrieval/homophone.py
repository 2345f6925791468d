"""Pinyin-IME typo repair: a question's misspelt word → the corpus word that sounds the same.

Guards type on phones with a pinyin IME and often pick the wrong candidate of the right sound:
汇抱 for 汇报, 消访 for 消防, 保正金 for 保证金, 撤厂 for 撤场. Such a word matches nothing
(jieba cuts it into loose characters), so the question loses its key term and is ranked poorly or
abstained.

The repair is deliberately narrow, to never turn a correct question into a different one:
  * a span of 2-4 Chinese characters is replaced by a vocabulary word (a word of the indexed rules or
    of the lexicon) of the same length that differs in exactly ONE character, whose usual reading
    is the reading of the replaced character in that word (phrase-aware; tones may differ: IMEs
    are typed without them);
  * the span as written must not itself be a vocabulary word;
  * the changed character must not sit inside a multi-character word jieba recognises in the
    question as typed (辞职要 must not become 辞只要: 职 belongs to the real word 辞职), and a span
    never cuts such a word in two. A typo breaks a word apart, so its wrong character is loose;
  * it is not a question word (几, 啥), nor a common function word (的, 是);
  * in a two-character span the kept character is the only evidence, so it must not be a word of
    its own: no function word (要签 is not 要钱) and no common character (人提 is not 人事).
Longer spans are tried first, left to right, non-overlapping. When several words fit, the one with
the same tone beats the others, then the one found in more rules.

Limits: a typo that forms a real word with a neighbour stays (交接般的: jieba knows 般的), and so
does a one-character word (多抱一点 for 多报一点).

Readings come from pypinyin, imported on the first candidate that needs checking (0.2-0.4 s), so a
process that never meets a typo never pays for it. A `ReadingTable` made once (every character's
usual reading, every vocabulary word's) and kept in the data directory spares later processes that
import: a cold `dutybot ask` meets a candidate in most questions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

_MIN_LEN, _MAX_LEN = 2, 4


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@cache
def readings(ch: str, every: bool = True) -> tuple[frozenset[str], frozenset[str]]:
    """(readings with tone numbers, readings without tones) of one character, all of them or only
    the usual one (`every=False`); empty when unknown."""
    from pypinyin import Style, pinyin

    found = pinyin(ch, style=Style.TONE3, heteronym=every, errors="ignore") if _is_han(ch) else []
    toned = frozenset(found[0]) if found else frozenset()
    return toned, frozenset(p.rstrip("012345") for p in toned)


@cache
def word_readings(word: str) -> tuple[str, ...]:
    """The reading of each character of a word in that word (phrase-aware: 系 is xi4 in 管理系统,
    ji4 only in 系鞋带), with tone numbers."""
    from pypinyin import Style, pinyin

    found = pinyin(word, style=Style.TONE3, heteronym=False, errors=lambda c: ["?"] * len(c))
    return tuple(p[0] for p in found)


@dataclass(frozen=True)
class ReadingTable:
    """Readings looked up instead of computed: `chars` maps each character of the CJK block to its
    usual reading ("" when pypinyin has none), `words` each vocabulary word to `word_readings`.
    Made by `reading_table`, saved and loaded as plain dicts (`as_dict` / `from_dict`)."""

    chars: Mapping[str, str] = field(default_factory=dict)
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def usual(self, ch: str) -> frozenset[str]:
        if ch in self.chars:
            return frozenset([self.chars[ch]]) if self.chars[ch] else frozenset()
        return readings(ch, every=False)[0]

    def of_word(self, word: str) -> tuple[str, ...]:
        return tuple(self.words[word]) if word in self.words else word_readings(word)

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {"chars": dict(self.chars), "words": {w: list(r) for w, r in self.words.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, object]]) -> ReadingTable:
        return cls(dict(data["chars"]), {w: tuple(r) for w, r in data["words"].items()})  # type: ignore[arg-type]


def reading_table(vocabulary: Iterable[str]) -> ReadingTable:
    """Every CJK character's usual reading (pypinyin's first reading of it, as `readings(ch,
    every=False)` gives it) and the phrase-aware readings of the vocabulary's words."""
    from pypinyin.contrib.tone_convert import to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    chars = {}
    for code in range(0x4E00, 0xA000):
        found = pinyin_dict.get(code)
        chars[chr(code)] = to_tone3(found.split(",")[0]) if found else ""
    words = {w: word_readings(w) for w in vocabulary if all(_is_han(c) for c in w)}
    return ReadingTable(chars, words)


_NO_TABLE = ReadingTable()


def _sound(typed: str, word: str, i: int, table: ReadingTable = _NO_TABLE) -> int:
    """2 when the typed character's usual reading is the reading of word[i] in the word, tone
    included, 1 without the tone, 0 otherwise. Only usual readings count: an IME shows a character
    under its common sound (被 under bei, not under its rare pi)."""
    ta = table.usual(typed)
    meant = table.of_word(word)
    if len(meant) != len(word):
        return 0
    if meant[i] in ta:
        return 2
    return 1 if meant[i].rstrip("012345") in {p.rstrip("012345") for p in ta} else 0


class HomophoneFixer:
    """Repairs one-character pinyin typos against a fixed vocabulary (see the module doc)."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        weight: Mapping[str, float] | None = None,
        table: ReadingTable | None = None,
    ) -> None:
        """`vocabulary`: the words a question may be repaired to; `weight`: how many rules hold each
        word (ties between candidates go to the commoner one); `table`: readings made earlier
        (`reading_table` over `words`), else pypinyin is asked."""
        self._words: frozenset[str] = frozenset(
            w for w in vocabulary if _MIN_LEN <= len(w) <= _MAX_LEN and all(_is_han(c) for c in w)
        )
        self._weight = dict(weight or {})
        self._table = table or _NO_TABLE
        # "汇_" → [(汇报, 1), …]: each word under every one-character mask, with the masked position.
        self._masked: dict[str, list[tuple[str, int]]] = {}
        for word in self._words:
            for i in range(len(word)):
                self._masked.setdefault(word[:i] + "_" + word[i + 1 :], []).append((word, i))

    def __len__(self) -> int:
        return len(self._words)

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def use_readings(self, table: ReadingTable) -> None:
        """Look readings up in `table` (made by `reading_table` over `words`) instead of asking pypinyin."""
        self._table = table

    def fix(
        self,
        text: str,
        pieces: Iterable[tuple[int, int]],
        skip: Callable[[str], bool] = lambda _s: False,
        common: Callable[[str], bool] = lambda _c: False,
        asking: Callable[[str], bool] = lambda _c: False,
    ) -> str:
        """`text` with its one-character homophone typos repaired.

        `pieces`: (start, end) of the multi-character words jieba finds in `text`; a repaired span
        never changes a character inside one, nor cuts one in two. `skip(s)` says that the typed
        piece of text `s` is a function word (的, 要, 一下 …): a span holding one is left alone,
        since 要签 is a verb phrase, not a typo of 要钱. `common(c)` says that the character c is a
        common word on its own (人, 到): a span whose unchanged loose characters include one is left
        alone too (两个人提了 is not a typo of 人事). A typo breaks a word into fragments that are
        seldom words by themselves (汇抱: 汇, 消访: 消). `asking(c)`: c is a question word (几, 啥,
        谁), which is what the guard meant to type, never a typo (分几部分 is not 分级部分).
        """
        if not self._masked:
            return text
        chars = list(text)
        n = len(chars)
        han = [_is_han(c) for c in chars]
        inside = [False] * n
        # cut_inside[i]: position i falls strictly inside a multi-character word, so no span may
        # start or end there.
        cut_inside = [False] * (n + 1)
        for start, end in pieces:
            for i in range(start, end):
                inside[i] = True
            for i in range(start + 1, end):
                cut_inside[i] = True
        taken = [False] * n
        for length in range(_MAX_LEN, _MIN_LEN - 1, -1):
            for start in range(n - length + 1):
                end = start + length
                if cut_inside[start] or cut_inside[end] or not all(han[start:end]) or any(taken[start:end]):
                    continue
                best = self._best(chars, start, end, inside, skip, common, asking)
                if best is not None:
                    chars[start:end] = list(best)
                    for i in range(start, end):
                        taken[i] = True
        return "".join(chars)

    @staticmethod
    def _plausible(
        span: str, i: int, inside: list[bool], skip: Callable[[str], bool], common: Callable[[str], bool]
    ) -> bool:
        """Whether span[i] may be a typo inside `span` (see the module doc). The typed character may
        be a function word (按 typed for 安 in 保按) only when it is not a common one (的 for 地 would
        repair 公司的产品 to 公司地产品). In a two-character span the kept character must not read as
        a word of its own: no function word (要签 is 要 + 签, not 要钱), no loose common character
        (两个人提 is 人 + 提, not 人事)."""
        n = len(span)
        if skip(span[i]) and common(span[i]):
            return False
        if n >= 3:
            # Two or more characters kept in place plus a same-sound one (小点自 → 小点子, 保正金 →
            # 保证金) is evidence enough, even when a kept one could be a word by itself (点).
            return True
        if any(common(span[j]) for j in range(n) if j != i and not inside[j]):
            return False
        return not any(skip(span[a:b]) for a in range(n) for b in range(a + 1, n + 1) if not a <= i < b)

    def _best(
        self,
        chars: list[str],
        start: int,
        end: int,
        inside: list[bool],
        skip: Callable[[str], bool],
        common: Callable[[str], bool],
        asking: Callable[[str], bool],
    ) -> str | None:
        """The vocabulary word the span chars[start:end] is a typo of, or None. The cheap look-up
        comes first: most spans match no masked word at all."""
        span = "".join(chars[start:end])
        if span in self._words:
            return None
        found: list[tuple[int, float, str]] = []
        for i in range(len(span)):
            if inside[start + i] or asking(span[i]):
                continue  # the typed character belongs to a real word, or asks: never the typo
            for word, at in self._masked.get(span[:i] + "_" + span[i + 1 :], ()):
                if at == i and word[i] != span[i] and (sound := _sound(span[i], word, i, self._table)):
                    if self._plausible(span, i, [inside[start + j] for j in range(len(span))], skip, common):
                        found.append((sound, self._weight.get(word, 0.0), word))
        if not found:
            return None
        return max(found)[2]
