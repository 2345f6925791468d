"""常见问法: the ways staff ask about a clause, kept by the admin beside the regulations.

seeds/askings.txt (optional), UTF-8, `#` comments and blank lines allowed:

    [《更夫守则》三、]
    夜里值班困了能不能眯一会儿
    能找个人替我看一晚上吗

A header in square brackets names one clause by its citation, as `dutybot corpus show` prints it;
each line below it is one way of asking about that clause. The search indexes these lines with the
clause (see `Searcher.clause_tokens`), so a question in everyday words meets the rule even when it
shares few words with the rule's formal text. This is how the admin teaches the bot a new way of
asking: `dutybot unanswered` lists what staff asked and no rule answered.

The regulations stay untouched: askings live in their own file, and a header that no longer names
a clause (the text was edited) is reported by `dutybot seeds check` with its line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from retrieval.lexicon import SeedError, SeedProblem, read_lines
from retrieval.model import Clause, Document

ASKINGS = "askings.txt"
# One way of asking is a chat message, not a paragraph.
MAX_ASKING_CHARS = 100

_HEADER = re.compile(r"^[\[【](.+)[\]】]$")


def read_askings(path: Path, docs: Sequence[Document]) -> tuple[Mapping[str, tuple[str, ...]], list[SeedProblem]]:
    """Clause id → its ways of asking, and every problem found. A missing file is no askings."""
    problems: list[SeedProblem] = []
    if not path.exists():
        return MappingProxyType({}), problems
    by_citation: dict[str, list[Clause]] = {}
    for clause in (c for d in docs for c in d.clauses):
        by_citation.setdefault(_fold(clause.citation), []).append(clause)
    out: dict[str, list[str]] = {}
    seen_header = False
    current: Clause | None = None  # None after a header that names no clause: its lines are skipped
    header_line = 0

    def close_group() -> None:
        if current is not None and not out.get(current.id):
            problems.append(SeedProblem(str(path), header_line, f"条款 {current.citation} 下面还没有写问法。"))

    for number, content in read_lines(path, problems):
        header = _HEADER.match(content)
        if header:
            close_group()
            seen_header, header_line = True, number
            current = _clause_for(header.group(1).strip(), by_citation, docs, path, number, problems)
        elif not seen_header:
            problems.append(SeedProblem(str(path), number, "问法前面要先写它对应的条款，如 [《更夫守则》三、]。"))
        elif current is None:
            continue  # the header's problem is reported once
        elif len(content) > MAX_ASKING_CHARS:
            problems.append(SeedProblem(
                str(path), number, f"一行只写一个问法（不超过 {MAX_ASKING_CHARS} 个字），现在有 {len(content)} 个字。"
            ))
        else:
            out.setdefault(current.id, []).append(content)
    close_group()
    problems.sort(key=lambda p: p.line)
    return MappingProxyType({cid: tuple(lines) for cid, lines in out.items()}), problems


def load_askings(path: Path, docs: Sequence[Document]) -> Mapping[str, tuple[str, ...]]:
    """Like `read_askings`, but raise SeedError listing every problem if the file is wrong."""
    askings, problems = read_askings(path, docs)
    if problems:
        raise SeedError(problems)
    return askings


def _clause_for(
    ref: str,
    by_citation: dict[str, list[Clause]],
    docs: Sequence[Document],
    path: Path,
    line: int,
    problems: list[SeedProblem],
) -> Clause | None:
    """The one clause a header names: its exact citation; for clauses printed with the same citation
    (the ● items of one list), the citation followed by the first words of the clause; or a loosely
    written citation that fits only one clause."""
    folded = _fold(ref)
    same = by_citation.get(folded, [])
    if len(same) == 1:
        return same[0]
    for cited, clauses in by_citation.items():
        if len(clauses) > 1 and folded.startswith(cited) and len(folded) > len(cited):
            opening = folded[len(cited):]
            chosen = [c for c in clauses if _fold(c.text).startswith(opening)]
            if len(chosen) == 1:
                return chosen[0]
    if same:
        problems.append(SeedProblem(
            str(path), line,
            f"有 {len(same)} 条条款的引用都是“{ref}”，请在引用后面接着写条款开头的几个字，"
            f"如 [{same[0].citation} {same[0].text[:6]}]。",
        ))
        return None
    from retrieval.corpus import find_clauses

    found = find_clauses(docs, ref)
    if len(found) == 1:
        return found[0]
    if not found:
        problems.append(SeedProblem(
            str(path), line, f"找不到条款“{ref}”，请用 dutybot corpus show 查到准确的引用再写。"
        ))
    else:
        problems.append(SeedProblem(
            str(path), line,
            f"“{ref}”对应 {len(found)} 条条款，请写到具体的一条（如 {found[0].citation}）。",
        ))
    return None


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
