"""Load and validate the admin-editable word lists in seeds/lexicon/.

UTF-8 text files, `#` comments and blank lines allowed:
  userdict.txt   jieba user dictionary, one entry a line: WORD [FREQ] [TAG]
  stopwords.txt  one word a line
  synonyms.txt   one group a line, canonical word first, words separated by spaces
  related.txt    (optional) one group a line: a general word of the rules first, then the specific
                 things staff name that fall under it (物资 梯子 钢筋 …). Unlike a synonym, the
                 specific word keeps its own meaning; a question naming it also searches the rule word.

Problems are collected (not raised one at a time) so an admin sees every mistake in one pass, with
messages in plain Simplified Chinese. Words are stored normalised exactly as the tokenizer
normalises text (full-width → half-width, traditional → simplified, lowercase), because that is the
form they are matched in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

USERDICT = "userdict.txt"
STOPWORDS = "stopwords.txt"
SYNONYMS = "synonyms.txt"
RELATED = "related.txt"
# A specific word may fall under this many general words at most (a short list stays explainable).
MAX_RELATED_PER_WORD = 2

# What each file is for, quoted when the file is missing.
_PURPOSE = {
    USERDICT: "用户词典，每行一个词：词语 [词频] [词性]",
    STOPWORDS: "停用词，每行一个词",
    SYNONYMS: "同义词，每行一组，标准词在前，用空格隔开",
    RELATED: "关联词，每行一组，规定里的总称在前，员工说的具体东西在后，用空格隔开",
}

# A `#` at the start of a line or after whitespace starts a comment ("C#" stays a word).
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_TAG = re.compile(r"^[A-Za-z]+$")


@dataclass(frozen=True)
class SeedProblem:
    """One mistake in a seed file. `line` is 1-based; 0 means the whole file."""

    file: str
    line: int
    message: str


class SeedError(Exception):
    """Seed files cannot be loaded; `problems` lists every mistake found."""

    def __init__(self, problems: list[SeedProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.file}:{p.line}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class UserWord:
    """A user dictionary entry; freq/tag None means "let jieba choose"."""

    word: str
    freq: int | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Lexicon:
    userdict: tuple[UserWord, ...] = ()
    stopwords: frozenset[str] = frozenset()
    # Every word of every group → the group's canonical word (canonical words map to themselves).
    synonyms: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Specific word → the rules' general words it falls under (梯子 → (物资,)), in file order.
    related: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


def load_lexicon(folder: Path) -> Lexicon:
    """Read the files; raise SeedError listing every problem if any file is wrong."""
    lexicon, problems = _read(folder)
    if problems:
        raise SeedError(problems)
    return lexicon


def check_lexicon(folder: Path) -> list[SeedProblem]:
    """Every problem in the lexicon files; empty when they load cleanly."""
    return _read(folder)[1]


def _read(folder: Path) -> tuple[Lexicon, list[SeedProblem]]:
    problems: list[SeedProblem] = []
    userdict = _parse_userdict(folder / USERDICT, problems)
    stopwords = _parse_stopwords(folder / STOPWORDS, problems)
    synonyms = _parse_synonyms(folder / SYNONYMS, problems)
    related = _parse_related(folder / RELATED, problems) if (folder / RELATED).exists() else {}
    _check_overlap(folder, stopwords, synonyms, problems)
    _check_related(folder, stopwords, synonyms, related, problems)
    lexicon = Lexicon(
        userdict=tuple(userdict),
        stopwords=frozenset(stopwords),
        synonyms=MappingProxyType({w: canon for w, (canon, _line) in synonyms.items()}),
        related=MappingProxyType({w: tuple(g for g, _line in groups) for w, groups in related.items()}),
    )
    return lexicon, problems


def read_lines(path: Path, problems: list[SeedProblem]) -> list[tuple[int, str]]:
    """(line number, content) for the non-blank, non-comment lines of a file, comments stripped."""
    if not path.is_file():
        purpose = f"（{_PURPOSE[path.name]}）" if path.name in _PURPOSE else ""
        problems.append(SeedProblem(str(path), 0, f"缺少文件 {path.name}{purpose}。"))
        return []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bad = raw[: err.start].count(b"\n") + 1
        problems.append(SeedProblem(str(path), bad, "不是 UTF-8 编码，请用 UTF-8 另存此文件。"))
        return []
    out: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = _COMMENT.sub("", line.replace("\ufeff", "")).strip()
        if content:
            out.append((number, content))
    return out


def _fields(content: str) -> list[str]:
    # Normalise first so a full-width space typed with a Chinese IME separates fields too.
    from retrieval.tokenize import normalize

    return normalize(content).split()


def _parse_userdict(path: Path, problems: list[SeedProblem]) -> list[UserWord]:
    entries: list[UserWord] = []
    for number, content in read_lines(path, problems):
        parts = _fields(content)
        if not parts:
            continue
        where = ""
        if len(parts) > 3 or (len(parts) >= 2 and not parts[1].isascii()):
            problems.append(SeedProblem(
                str(path), number,
                f"{where}词语中间不能有空格，每行只写一个词（后面可选词频和词性），现在是“{content}”。",
            ))
            continue
        freq: int | None = None
        tag: str | None = None
        if len(parts) >= 2:
            if not (parts[1].isdigit() and int(parts[1]) > 0):
                problems.append(SeedProblem(str(path), number, f"{where}词频必须是正整数，现在是“{parts[1]}”。"))
                continue
            freq = int(parts[1])
        if len(parts) == 3:
            if not _TAG.match(parts[2]):
                problems.append(SeedProblem(
                    str(path), number, f"{where}词性只能是英文字母（如 n、v、nz），现在是“{parts[2]}”。"
                ))
                continue
            tag = parts[2]
        entries.append(UserWord(parts[0], freq, tag))
    return entries


def _parse_stopwords(path: Path, problems: list[SeedProblem]) -> dict[str, int]:
    """Stopword → line number of its first occurrence."""
    words: dict[str, int] = {}
    for number, content in read_lines(path, problems):
        parts = _fields(content)
        if len(parts) != 1:
            problems.append(SeedProblem(
                str(path), number, f"每行只写一个词，词语中间不能有空格，现在是“{content}”。"
            ))
            continue
        words.setdefault(parts[0], number)
    return words


def _parse_synonyms(path: Path, problems: list[SeedProblem]) -> dict[str, tuple[str, int]]:
    """Word → (canonical word, line number of its group)."""
    mapping: dict[str, tuple[str, int]] = {}
    for number, content in read_lines(path, problems):
        group = list(dict.fromkeys(_fields(content)))  # a word repeated within its own group is harmless
        where = ""
        if len(group) < 2:
            problems.append(SeedProblem(
                str(path), number,
                f"{where}一组同义词至少要有两个词（标准词在前，用空格隔开），现在只有“{content}”。",
            ))
            continue
        clashes = [w for w in group if w in mapping]
        for word in clashes:
            earlier = mapping[word][1]
            problems.append(SeedProblem(
                str(path), number, f"{where}“{word}”已经在第 {earlier} 行的同义词组里，一个词只能属于一组。"
            ))
        if clashes:
            continue
        for word in group:
            mapping[word] = (group[0], number)
    return mapping


def _parse_related(path: Path, problems: list[SeedProblem]) -> dict[str, list[tuple[str, int]]]:
    """Specific word → [(general word, line number), …]."""
    mapping: dict[str, list[tuple[str, int]]] = {}
    for number, content in read_lines(path, problems):
        group = list(dict.fromkeys(_fields(content)))
        if len(group) < 2:
            problems.append(SeedProblem(
                str(path), number,
                f"一组关联词至少要有两个词（规定里的总称在前，具体说法在后，用空格隔开），现在只有“{content}”。",
            ))
            continue
        general, members = group[0], group[1:]
        for word in members:
            under = mapping.setdefault(word, [])
            if len(under) >= MAX_RELATED_PER_WORD:
                lines = "、".join(f"第 {line} 行" for _g, line in under)
                problems.append(SeedProblem(
                    str(path), number,
                    f"“{word}”已经写在{lines}，一个词最多归到 {MAX_RELATED_PER_WORD} 个总称下。",
                ))
                continue
            under.append((general, number))
    return mapping


def _check_related(
    folder: Path,
    stopwords: dict[str, int],
    synonyms: dict[str, tuple[str, int]],
    related: dict[str, list[tuple[str, int]]],
    problems: list[SeedProblem],
) -> None:
    # A stopword is never searched, and a synonym is already mapped to its group's first word:
    # listing either here would silently do nothing.
    path = str(folder / RELATED)
    for word, groups in related.items():
        line = groups[0][1]
        if word in stopwords:
            problems.append(SeedProblem(
                path, line, f"“{word}”也是停用词（第 {stopwords[word]} 行），停用词会被忽略，请从其中一个文件删掉。"
            ))
        elif word in synonyms and synonyms[word][0] != word:
            canon, syn_line = synonyms[word]
            problems.append(SeedProblem(
                path, line,
                f"“{word}”在同义词第 {syn_line} 行已算作“{canon}”，这里请写“{canon}”。",
            ))


def _check_overlap(
    folder: Path,
    stopwords: dict[str, int],
    synonyms: dict[str, tuple[str, int]],
    problems: list[SeedProblem],
) -> None:
    # A word that is both ignored and a synonym would silently never match: say so.
    for word, line in stopwords.items():
        if word in synonyms:
            problems.append(SeedProblem(
                str(folder / STOPWORDS), line,
                f"“{word}”也写在同义词第 {synonyms[word][1]} 行，"
                "停用词会被忽略，请从其中一个文件删掉。",
            ))
