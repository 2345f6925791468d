"""Retrieval tests. Shared here: a fixed lexicon and one warm cache folder per test session, so the
jieba dictionary is built once per session rather than once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.lexicon import Lexicon, UserWord

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

# A fixed lexicon: the real seed lists are edited by admins, these tests pin the mechanics.
TEST_LEXICON = Lexicon(
    userdict=(UserWord("睡岗"), UserWord("串岗"), UserWord("脱岗"), UserWord("夜巡岗", 50, "n")),
    stopwords=frozenset({"请问", "吗", "的", "了", "能", "可以"}),
    synonyms={
        "吸烟": "吸烟", "抽烟": "吸烟", "盗窃": "盗窃", "偷": "盗窃", "熄灯": "熄灯", "关灯睡觉": "熄灯",
    },
)


def copy_seeds(target: Path, askings: bool = False) -> Path:
    """A private copy of the seeds the search reads (tests edit it; admins may be editing the real
    one): lexicon and regulations, and the 常见问法 when `askings`."""
    import shutil

    for folder in ("lexicon", "regulations"):
        shutil.copytree(SEEDS / folder, target / folder)
    if askings and (SEEDS / "askings.txt").exists():
        shutil.copy2(SEEDS / "askings.txt", target / "askings.txt")
    return target


def session_cache(factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by every retrieval test module of this session (under pytest's temp root)."""
    path = factory.getbasetemp() / "retrieval-cache"
    path.mkdir(exist_ok=True)
    return path
