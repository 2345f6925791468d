"""Text normalisation and word segmentation, identical for clauses (index side) and questions (query side).

A `Tokenizer` owns a private `jieba.Tokenizer` (never jieba's global default, which other code may
have changed) loaded with the admin's user dictionary and every synonym word, so each synonym is cut
whole and can then be mapped to its group's canonical word.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import math
import os
import re
import tempfile
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retrieval._fastimport import without_pkg_resources

with without_pkg_resources():  # both fall back to opening their own data files
    import jieba
    import zhconv

# jieba sets its logger to DEBUG at import and prints "Building prefix dict…" on every load; that is
# noise on a guard's console and in scripts that read our stdout/stderr.
jieba.setLogLevel(logging.WARNING)

if TYPE_CHECKING:
    from retrieval.lexicon import Lexicon

CutMode = Literal["search", "cut"]

# Our prepared jieba dictionary (see Tokenizer.load); bump the format when its layout changes.
_DICT_FORMAT = 1
_DICT_PREFIX = "jieba-dict-"
# Loaded dictionaries by word-list key, newest last: a process that builds several Searchers over
# the same lexicon (tests, the quality tool, a reload) pays the load once. ~80 MB each, so few.
_LOADED: dict[str, jieba.Tokenizer] = {}
_LOADED_MAX = 2

# A token must contain a letter, digit or CJK ideograph; anything else is punctuation, emoji or space.
_WORDLIKE = re.compile(r"[^\W_]", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_WHITESPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")

# Words that carry the form of a colloquial question, not its topic ("上班能喝酒吗？怎么办？").
# Regulations hardly ever contain them, so BM25 would treat them as rare, highly specific terms and
# they would skew both ranking and the coverage-based abstention. They are dropped on both sides, in
# addition to the admin's stopwords.txt (which stays the place for domain-specific noise words).
QUESTION_WORDS: frozenset[str] = frozenset(
    # sentence-final particles
    ["吗", "呢", "吧", "啊", "呀", "嘛", "哦", "哈", "啦", "么", "的", "了", "着", "过"]
    # question words
    + ["什么", "怎么", "怎么办", "怎么样", "怎样", "如何", "为什么", "为啥", "啥", "咋", "咋办"]
    + ["哪", "哪里", "哪儿", "哪些", "哪个", "谁", "多少", "几", "是否", "可否"]
    # A-not-A questions
    + ["是不是", "能不能", "可不可以", "会不会", "要不要", "有没有", "行不行", "对不对", "算不算"]
    # the same in northern speech (中不中 = 行不行), and question phrases jieba keeps whole
    + ["中不中", "成不成", "哪几个", "哪几种", "几种", "什么样", "咋样", "咋搞", "多会儿", "怎么回事", "究竟"]
    # asking, and who is asking
    + ["请问", "请", "问", "一下", "我", "我们", "你", "你们", "咱", "咱们", "俺", "俺们"]
)


# Direction and result complements of spoken verbs (报上去, 批下来, 溜出去, 签完): see
# Tokenizer._strip_complement. Two-character ones first, so 出来 is not read as 出 + 来.
_COMPLEMENTS = ("上去", "上来", "下去", "下来", "出去", "出来", "进去", "进来", "回去", "回来", "过去", "过来", "起来", "完")

# Separable verbs (离合词) split by a filler: 睡个觉, 吃个饭, 顶一下班, 打会儿牌. The filler is
# dropped when verb + object is itself a known word (see Tokenizer._join_separable). Numerals and
# demonstratives before 个 (一个月, 每个人, 这个客户) are quantities, not verbs.
_SEPARABLE = re.compile(r"([\u4e00-\u9fff])(一下|一会儿|一会|会儿|个)(?=([\u4e00-\u9fff]))")
_NOT_VERB = frozenset("一二三四五六七八九十百千万两几每这那哪整单多某各半另本该此")
# A joined word from jieba's dictionary needs at least this frequency (睡觉 1731, 吃饭 3082, 打牌
# 127); lexicon words (synonyms, user dictionary) always count.
_SEPARABLE_MIN_FREQ = 100


@dataclass(frozen=True)
class Analysis:
    """A text's terms in three layers; `tokens` (all of them) is what gets indexed and searched.

    words:    jieba precise-mode words, stopwords dropped, synonyms mapped to their canonical word.
    subwords: in "search" mode, the dictionary words inside longer words, as jieba's cut_for_search
              makes them (交接班 → 交接, 接班), so a question using the short form still matches.
    chars:    the Chinese characters of every multi-character word, once per position, so
              喝两瓶啤酒 still meets 不准喝酒 through 酒. (Taken from the precise words, not from
              cut_for_search's overlapping pieces, which would count one character several times.)
    """

    words: tuple[str, ...] = ()
    subwords: tuple[str, ...] = ()
    chars: tuple[str, ...] = ()
    # Each word as written in the (normalised) text, parallel to `words` (抽烟 for the word 吸烟).
    surfaces: tuple[str, ...] = ()

    @property
    def tokens(self) -> list[str]:
        return [*self.words, *self.subwords, *self.chars]


def normalize(text: str) -> str:
    """The canonical form of any text before cutting.

    NFKC (full-width letters, digits and punctuation → half-width; compatibility forms unfolded),
    traditional → simplified (zh-cn), lowercase, control/format characters removed (zero-width
    spaces inside a word must not split it), whitespace runs folded to one space.
    """
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():
        text = "".join(_strip_control(ch) for ch in text)
    # Measured: ~3 µs for a short question, ~6 ms for the whole 20k-character seed corpus, so
    # converting every text is cheap next to jieba and needs no cache.
    text = zhconv.convert(text, "zh-cn").lower()
    return " ".join(text.split())


def _strip_control(ch: str) -> str:
    if ch in _WHITESPACE_CONTROLS or unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
        return " "
    return "" if unicodedata.category(ch)[0] == "C" else ch


def _load_prepared(tk: jieba.Tokenizer, path: Path) -> bool:
    """Fill a jieba.Tokenizer from our prepared-dictionary file; False when absent or unreadable."""
    try:
        fmt, words, freqs, total, tags = marshal.loads(path.read_bytes())
        if fmt != _DICT_FORMAT:
            return False
        counts = array("q")
        counts.frombytes(freqs)
        keys = words.split("\n")
        if len(keys) != len(counts):
            return False
    except (OSError, ValueError, EOFError, TypeError):
        return False
    # jieba 0.42 keeps its prefix dictionary in these attributes; initialize() is a no-op afterwards.
    tk.FREQ = dict(zip(keys, counts.tolist()))
    tk.total = total
    tk.user_word_tag_tab.update(tags)
    tk.initialized = True
    return True


def _save_prepared(tk: jieba.Tokenizer, path: Path) -> None:
    words = "\n".join(tk.FREQ)
    if words.count("\n") != len(tk.FREQ) - 1:
        return  # a word with a newline cannot use this layout; jieba's own cache still applies
    counts = array("q", tk.FREQ.values())
    data = marshal.dumps((_DICT_FORMAT, words, counts.tobytes(), tk.total, dict(tk.user_word_tag_tab)))
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        for old in path.parent.glob(f"{_DICT_PREFIX}*.bin"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only data dir only costs start-up time


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


class Tokenizer:
    """normalize → join separable verbs (睡个觉 → 睡觉, `join_separable`) → jieba precise cut → drop
    punctuation/stopwords → map synonyms → add sub-words and characters (see `Analysis`).

    `mode="search"` adds the dictionary sub-words of long words as jieba's cut_for_search does;
    "cut" does not. `hmm` enables jieba's HMM guessing of unknown words. `single_chars` chooses which
    one-character words survive: "cjk" keeps Chinese characters (偷, 酒, 门 are whole words) and drops
    lone Latin letters and digits, "all" keeps every one, "none" drops them all. `char_unigrams` adds
    the characters layer. Defaults are the measured best on the seed corpus (Recall@1 on the
    colloquial dev questions): characters layer 0.72 → 0.79, search over precise mode 0.76 → 0.79,
    keeping CJK single characters 0.73 → 0.79 against dropping them; HMM and keeping lone Latin
    letters/digits changed nothing. Joining separable verbs: dev 82.9 → 83.7 (顶一下班 meets 顶岗),
    held-out unchanged.
    """

    def __init__(
        self,
        lexicon: Lexicon,
        cache_dir: Path | None = None,
        *,
        mode: CutMode = "search",
        hmm: bool = False,
        single_chars: Literal["cjk", "all", "none"] = "cjk",
        char_unigrams: bool = True,
        extra_stopwords: Iterable[str] = QUESTION_WORDS,
        join_separable: bool = True,
        strip_complements: bool = True,
    ) -> None:
        self.lexicon = lexicon
        self.cache_dir = cache_dir
        self.mode: CutMode = mode
        self.hmm = hmm
        self.single_chars = single_chars
        self.char_unigrams = char_unigrams
        # An admin's synonym beats a built-in question word (the lexicon check guards its own lists).
        extra = frozenset(normalize(w) for w in extra_stopwords) - lexicon.synonyms.keys()
        self.stopwords = frozenset(lexicon.stopwords) | extra
        self.synonyms = dict(lexicon.synonyms)
        # Specific word → the rules' general words (related.txt), both in canonical form.
        self.related: dict[str, tuple[str, ...]] = {
            word: tuple(dict.fromkeys(self.synonyms.get(g, g) for g in general))
            for word, general in lexicon.related.items()
        }
        self._userwords = frozenset(entry.word for entry in lexicon.userdict)
        self._related_words = frozenset(self._lexicon_words()) - self.synonyms.keys()
        self.join_separable = join_separable
        self.strip_complements = strip_complements
        self._jieba: jieba.Tokenizer | None = None

    @property
    def signature(self) -> str:
        """Everything besides the lexicon that changes token output (part of index cache keys)."""
        return (
            f"jieba={jieba.__version__};mode={self.mode};hmm={self.hmm};single={self.single_chars};"
            f"chars={self.char_unigrams};sep={self.join_separable};compl={self.strip_complements};"
            f"extra={','.join(sorted(self.stopwords - self.lexicon.stopwords))}"
        )

    def load(self) -> None:
        """Build jieba's prefix dictionary now (it is otherwise built lazily on the first cut).

        With a cache dir, the finished dictionary (jieba's plus our words) is kept there in a layout
        that loads ~3x faster than jieba's own cache (0.2 s instead of 0.6 s, most of a cold start).
        Within one process, a dictionary already loaded for the same words is shared (read-only).
        """
        if self._jieba is not None:
            return
        key = self._dict_key()
        if key in _LOADED:
            self._jieba = _LOADED[key]
            return
        self._jieba = self._load_jieba(key)
        _LOADED[key] = self._jieba
        while len(_LOADED) > _LOADED_MAX:
            del _LOADED[next(iter(_LOADED))]

    def _load_jieba(self, key: str) -> jieba.Tokenizer:
        tk = jieba.Tokenizer()
        prepared = None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            prepared = self.cache_dir / f"{_DICT_PREFIX}{key}.bin"
            if _load_prepared(tk, prepared):
                return tk
            # jieba writes its marshal cache to /tmp by default; keep it in the project's data dir.
            tk.cache_file = str((self.cache_dir / f"jieba-{jieba.__version__}.cache").resolve())
        tk.initialize()
        added: set[str] = set()
        for entry in self.lexicon.userdict:
            tk.add_word(entry.word, entry.freq, entry.tag)
            added.add(entry.word)
        for word in self._lexicon_words():
            if word not in added:
                # No frequency: jieba suggests one just high enough to keep the word whole.
                tk.add_word(word)
                added.add(word)
        for word in self._question_phrases():
            if word not in added and word not in tk.FREQ:
                tk.add_word(word)  # 中不中 cut whole, so it is dropped as a question word
        if prepared is not None:
            _save_prepared(tk, prepared)
        return tk

    def _dict_key(self) -> str:
        h = hashlib.sha256(f"{_DICT_FORMAT};{jieba.__version__}".encode())
        for entry in self.lexicon.userdict:
            h.update(f"\n{entry.word}\t{entry.freq}\t{entry.tag}".encode())
        h.update(b"\n--synonyms--")
        for word in sorted(self._lexicon_words()):
            h.update(f"\n{word}".encode())
        h.update(b"\n--question phrases--")
        for word in sorted(self._question_phrases()):
            h.update(f"\n{word}".encode())
        return h.hexdigest()[:24]

    def _question_phrases(self) -> set[str]:
        """The built-in question words of several characters (dropped like stopwords)."""
        return {w for w in self.stopwords - self.lexicon.stopwords if len(w) > 1}

    def _is_lexicon_word(self, word: str) -> bool:
        return word in self.synonyms or word in self._userwords or word in self._related_words

    def _lexicon_words(self) -> set[str]:
        """Synonym and related words: each is cut whole, so it can be mapped or expanded."""
        return {*self.synonyms, *self.related, *(g for general in self.related.values() for g in general)}

    def cut(self, text: str) -> list[str]:
        """jieba's precise-mode pieces of the normalised text, unfiltered (for debugging and tests)."""
        self.load()
        assert self._jieba is not None
        return list(self._jieba.cut(self._join_separable(normalize(text)), HMM=self.hmm))

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each multi-character piece of jieba's precise cut of `text` as given (no
        normalising, no joining of separable verbs, so positions are positions in `text`)."""
        self.load()
        assert self._jieba is not None
        out: list[tuple[int, int]] = []
        at = 0
        for piece in self._jieba.cut(text, HMM=False):
            if len(piece) > 1:
                out.append((at, at + len(piece)))
            at += len(piece)
        return out

    def _join_separable(self, text: str) -> str:
        """睡个觉 → 睡觉, 顶一下班 → 顶班: drop the filler inside a separable verb when the joined
        word is known, so it meets the rules' 睡岗/顶岗 instead of leaving 顶 / 一 / 下班."""
        if not self.join_separable or not _SEPARABLE.search(text):
            return text
        assert self._jieba is not None
        freq = self._jieba.FREQ

        def join(m: re.Match[str]) -> str:
            verb, obj = m.group(1), m.group(3)
            word = verb + obj
            known = self._is_lexicon_word(word) or freq.get(word, 0) >= _SEPARABLE_MIN_FREQ
            return verb if known and verb not in _NOT_VERB else m.group(0)

        return _SEPARABLE.sub(join, text)

    def rarity(self, word: str) -> float:
        """How rare a word is in ordinary Chinese: -log of its relative frequency in jieba's
        dictionary (的 ≈ 5.3, 上班 ≈ 10.7, 年假 ≈ 14.9; an unknown word gets the maximum, ≈ 17.9)."""
        self.load()
        assert self._jieba is not None
        freq = self._jieba.FREQ.get(word) or 1
        return math.log(self._jieba.total / freq)

    def tokens(self, text: str) -> list[str]:
        """Index/query terms of a text (words, sub-words, characters); repeats kept, BM25 counts them."""
        return self.analyze(text).tokens

    def analyze(self, text: str) -> Analysis:
        """The terms of a text in three layers, see `Analysis`."""
        words: list[str] = []
        surfaces: list[str] = []
        subwords: list[str] = []
        chars: list[str] = []
        for piece in self.cut(text):
            surface = self._strip_complement(piece.strip())
            word = self._term(surface)
            if word is None:
                continue
            words.append(word)
            surfaces.append(surface)
            subwords += [term for _start, _end, term in self.subword_spans(surface)]
            if self.char_unigrams and len(surface) > 1:
                chars += self.chars_of(surface)
        return Analysis(tuple(words), tuple(subwords), tuple(chars), tuple(surfaces))

    def _strip_complement(self, word: str) -> str:
        """报上去 → 报, 批下来 → 批, 签完 → 签: a verb with a direction or result complement that jieba
        keeps as one rare word means the verb; the complement is the form of spoken Chinese, never the
        topic. Lexicon words are left whole (进来 is a synonym of 进入)."""
        if not self.strip_complements or self._is_lexicon_word(word):
            return word
        for ending in _COMPLEMENTS:
            if len(word) > len(ending) and word.endswith(ending):
                return word[: -len(ending)]
        return word

    def subword_spans(self, word: str) -> list[tuple[int, int, str]]:
        """(start, end, term) of the sub-words "search" mode adds for a word as written; [] in "cut" mode."""
        if self.mode != "search" or len(word) <= 2:
            return []
        return [(i, i + len(sub), t) for i, sub in self._subwords(word) if (t := self._term(sub)) is not None]

    def chars_of(self, word: str) -> list[str]:
        """The characters of a word that become terms: Chinese ones that are not stopwords."""
        return [c for c in word if is_cjk(c) and c not in self.stopwords]

    def _term(self, word: str) -> str | None:
        """The index term for one word, or None when the word is dropped."""
        if not word or not _WORDLIKE.search(word) or word in self.stopwords:
            return None
        canonical = self.synonyms.get(word, word)
        if len(canonical) == 1 and not self._keep_single(canonical):
            return None
        return canonical

    def _subwords(self, word: str) -> list[tuple[int, str]]:
        """(offset, piece): the 2- and 3-character dictionary words inside a longer word (jieba's
        cut_for_search rule)."""
        assert self._jieba is not None
        freq = self._jieba.FREQ
        out = [(i, word[i : i + 2]) for i in range(len(word) - 1) if freq.get(word[i : i + 2])]
        if len(word) > 3:
            out += [(i, word[i : i + 3]) for i in range(len(word) - 2) if freq.get(word[i : i + 3])]
        return out

    def _keep_single(self, ch: str) -> bool:
        if self.single_chars == "all":
            return True
        if self.single_chars == "none":
            return False
        return is_cjk(ch)
