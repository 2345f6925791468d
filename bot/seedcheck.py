"""`dutybot seeds check`: validate every admin-editable file in seeds/ and say, in Chinese, what is wrong."""

from __future__ import annotations

from pathlib import Path

from retrieval.lexicon import SeedProblem, check_lexicon


def check_seeds(seeds_dir: Path) -> list[SeedProblem]:
    if not seeds_dir.is_dir():
        return [SeedProblem(str(seeds_dir), 0, "找不到 seeds 文件夹，请检查 SEEDS_DIR 设置。")]
    from bot.core.escalation import FILE_NAME, check_escalation
    from jobs.reminder_seeds import check_reminders
    from jobs.shift_config import check_shifts
    from jobs.workdays import check_workday_seeds

    return (check_regulations(seeds_dir / "regulations") + check_lexicon(seeds_dir / "lexicon")
            + check_askings(seeds_dir)
            + check_escalation(seeds_dir / FILE_NAME)
            + check_workday_seeds(seeds_dir)
            + check_shifts(seeds_dir)
            + check_reminders(seeds_dir))


def check_askings(seeds_dir: Path) -> list[SeedProblem]:
    """seeds/askings.txt: every header must name one clause of the regulations as they are now."""
    from retrieval.askings import ASKINGS, read_askings
    from retrieval.corpus import load_corpus

    if not (seeds_dir / ASKINGS).exists():
        return []
    try:
        docs = load_corpus(seeds_dir / "regulations")
    except (OSError, UnicodeDecodeError):
        return []  # check_regulations reports the regulations themselves
    return read_askings(seeds_dir / ASKINGS, docs)[1]


def check_regulations(folder: Path) -> list[SeedProblem]:
    """The regulations folder must hold readable UTF-8 text files that yield at least one clause."""
    from retrieval.corpus import parse_text

    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        return [SeedProblem(str(folder), 0, "没有规章制度文本（需要至少一个 .txt 文件）。")]
    problems: list[SeedProblem] = []
    for path in files:
        try:
            raw = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = path.read_bytes()[: err.start].count(b"\n") + 1
            problems.append(SeedProblem(str(path), line, "不是 UTF-8 编码，请另存为 UTF-8 文本。"))
            continue
        if not any(doc.clauses for doc in parse_text(raw)):
            problems.append(SeedProblem(str(path), 0, "没有读出任何条款，请检查文件内容。"))
    return problems
