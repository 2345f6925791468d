"""Searcher: ranking, same-rule collapsing, abstention, odd input, and the prepared-index cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.index import BM25Index
from retrieval.model import Answer, Clause
from retrieval.search import Searcher
from retrieval.tokenize import Tokenizer
from tests.retrieval import TEST_LEXICON, copy_seeds, session_cache

ODD_QUESTIONS = [
    "",
    "   \t\n ",
    "😀🍺🚬",
    "？？？！！！",
    "上班时不准喝酒" * 1500,  # 10 500 characters
    "Can I drink beer on duty?",
    "上班時可以喝酒嗎？值班時睡覺怎麼處理",
    "上班\x00时\x07可以\u200b喝酒\x1b[31m吗",
    "\ud800",  # a lone surrogate (broken clipboard text)
]


# --- synthetic clauses: mechanics independent of the seed texts ---------------------------------------


def clause(cid: str, doc: str, label: str, text: str, also: tuple[str, ...] = (), headings: tuple[str, ...] = ()) -> Clause:
    return Clause(id=cid, doc=doc, path=(label,), text=text, headings=headings, also_in=also)


SYNTHETIC = [
    clause("a1", "更夫守则", "一、", "上班时不准喝酒，不准回家吃饭、打扑克、下棋。", also=("b1",)),
    clause("a2", "更夫守则", "二、", "晚上九点钟以前必须关闭大门。"),
    clause("a3", "更夫守则", "三、", "施工现场严禁吸烟。"),
    clause("b1", "值班人员管理规定", "四、", "上班时不准喝酒，不准回家吃饭、打扑克、下棋、看电视。", also=("a1",)),
    clause("b2", "值班人员管理规定", "五、", "严禁看守自盗和内外勾结盗窃。"),
    clause("c1", "客户服务标准", "1", "客户服务期内提供信息管理系统的咨询和培训。", headings=("定期服务内容",)),
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    tk = Tokenizer(TEST_LEXICON, session_cache(tmp_path_factory))
    tk.load()
    return tk


@pytest.fixture(scope="module")
def small(tokenizer: Tokenizer) -> Searcher:
    # Six clauses give small idfs and scores: the default thresholds are meant for a real corpus.
    return Searcher(SYNTHETIC, tokenizer, min_score=1.0, min_confidence=0.8)


def test_answers_with_the_rule(small: Searcher) -> None:
    answer = small.ask("晚上几点关大门？")
    assert answer.answered and answer.reason is None
    assert answer.hits[0].clause.id == "a2"
    assert "大门" in answer.hits[0].matched
    assert 0 < answer.coverage <= 1


def test_synonyms_match(small: Searcher) -> None:
    assert small.ask("工地上能抽烟吗").hits[0].clause.id == "a3"
    assert small.ask("有人偷东西").hits[0].clause.id == "b2"


def test_same_rule_in_two_documents_is_one_hit(small: Searcher) -> None:
    answer = small.ask("上班能喝酒吗", k=3)
    first = answer.hits[0]
    assert {first.clause.id, *(c.id for c in first.also)} == {"a1", "b1"}
    assert all(h.clause.id not in {"a1", "b1"} for h in answer.hits[1:])


def test_hits_always_fill_k_best_first(small: Searcher) -> None:
    for k in (1, 3, 5, 50):
        answer = small.ask("上班能喝酒吗", k=k)
        assert len(answer.hits) == min(k, 5)  # six clauses, five distinct rules
        scores = [h.score for h in answer.hits]
        assert scores == sorted(scores, reverse=True)
    assert len(small.ask("今天天气怎么样", k=3).hits) == 3


def test_heading_and_title_count_in_matching(small: Searcher) -> None:
    assert small.ask("定期服务内容").hits[0].clause.id == "c1"
    assert small.ask("客户服务标准").hits[0].clause.doc == "客户服务标准"


@pytest.mark.parametrize("question", ["今天天气怎么样？", "食堂几点开饭？", "股票代码是多少"])
def test_out_of_scope_is_not_answered(small: Searcher, question: str) -> None:
    answer = small.ask(question)
    assert not answer.answered
    assert answer.reason in {"no_match", "low_confidence", "low_score"}


def test_no_usable_terms_is_empty(small: Searcher) -> None:
    answer = small.ask("请问？？")
    assert (answer.answered, answer.reason, answer.terms) == (False, "empty", ())
    assert len(answer.hits) == 3


@pytest.mark.parametrize("question", ODD_QUESTIONS)
def test_odd_input_never_raises(small: Searcher, question: str) -> None:
    answer = small.ask(question, k=3)
    assert isinstance(answer, Answer) and len(answer.hits) == 3
    small.explain(question, k=2)


def test_thresholds_are_parameters(tokenizer: Tokenizer, small: Searcher) -> None:
    strict = Searcher(SYNTHETIC, tokenizer, index=small.index, min_confidence=1e9)
    answer = strict.ask("晚上几点关大门？")
    assert (answer.answered, answer.reason) == (False, "low_confidence")
    picky = Searcher(SYNTHETIC, tokenizer, index=small.index, min_confidence=-1e9, min_score=1e9)
    assert picky.ask("晚上几点关大门？").reason == "low_score"


def test_explain_splits_the_score_by_term(small: Searcher) -> None:
    [item] = small.explain("晚上关大门", k=1)
    assert item["citation"] == "《更夫守则》二、"
    assert sum(item["terms"].values()) == pytest.approx(item["score"])
    assert "大门" in item["terms"] and item["missing"] == []


def test_highlight_marks_synonyms_too(small: Searcher) -> None:
    assert small.highlight("严禁看守自盗和内外勾结盗窃，不准偷拿", ["盗窃"]) == "严禁看守自盗和内外勾结【盗窃】，不准【偷】拿"


def test_matched_terms_are_words_not_loose_characters(small: Searcher) -> None:
    best = small.ask("晚上几点关大门？").hits[0]
    assert "大门" in best.matched and "门" not in best.matched


def test_no_clauses_at_all(tokenizer: Tokenizer) -> None:
    empty = Searcher([], tokenizer)
    assert empty.ask("上班能喝酒吗") == Answer("上班能喝酒吗", False, (), "no_match", terms=empty.ask("上班能喝酒吗").terms)
    assert empty.ask("？").reason == "empty"
    assert empty.explain("喝酒") == []


def test_index_must_fit_the_clauses(tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError):
        Searcher(SYNTHETIC, tokenizer, index=BM25Index([["x"]]))


def test_clause_token_lists_are_plain_bm25(small: Searcher) -> None:
    from rank_bm25 import BM25Okapi

    ref = BM25Okapi(small.clause_tokens())
    terms = small.terms("上班时能不能喝酒 抽烟")
    assert max(abs(a - b) for a, b in zip(small.index.scores(terms), ref.get_scores(terms), strict=True)) < 1e-6


def test_hits_are_ordered_by_their_final_score(small: Searcher) -> None:
    # Re-ranking reorders the BM25 hits; the score a hit carries is the one it was ranked by.
    for question in ("上班时不准喝酒看电视", "客户服务期培训", "偷东西"):
        scores = [h.score for h in small.ask(question, k=5).hits]
        assert scores == sorted(scores, reverse=True)


LEAD_IN = [
    Clause("p5", "创新改善管理规定", ("5、",), "对于采纳的改善,根据经费投入情况,确定是否需要立项:"),
    Clause("p51", "创新改善管理规定", ("5、", "(1)"), "无需经费投入的,不需立项,只需备案。"),
    Clause("p52", "创新改善管理规定", ("5、", "(2)"), "需要经费投入的,需立项并评估。"),
    Clause("s1", "服务规范", ("4.2",), "服务管理策划 目的:提供资源。 服务管理计划应定义:"),
    Clause("s2", "服务规范", ("4.2", "a)"), "组织范围;"),
    clause("q1", "更夫守则", "一、", "晚上九点钟以前必须关闭大门。"),
]


def test_a_lead_in_is_the_context_of_its_items(tokenizer: Tokenizer) -> None:
    searcher = Searcher(LEAD_IN, tokenizer, min_score=1.0)
    tokens = searcher.clause_tokens()
    # "…确定是否需要立项:" is all lead-in: its words move to its items, it keeps only its title.
    assert tokens[0] == tokenizer.tokens("创新改善管理规定")
    assert "采纳" in tokens[1] and "采纳" in tokens[2]
    # Only the last sentence of "目的:提供资源。 服务管理计划应定义:" leads in; the clause keeps its text.
    assert "资源" in tokens[3] and "资源" not in tokens[4] and "定义" in tokens[4]
    assert searcher.ask("采纳的改善要不要立项").hits[0].clause.id in {"p51", "p52"}
    unfolded = Searcher(LEAD_IN, tokenizer, min_score=1.0, fold_lead_ins=False)
    assert "采纳" not in unfolded.clause_tokens()[1]


# --- the real seeds -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of seeds/ (tests edit it; admins may be editing the real one)."""
    return copy_seeds(tmp_path_factory.mktemp("seeds"), askings=True)


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("real-cache")
    for warm in session_cache(tmp_path_factory).glob("jieba-*"):
        shutil.copy2(warm, cache)  # jieba's dictionary cache: built once per session
    return cache


@pytest.fixture(scope="module")
def real(seeds_copy: Path, real_cache: Path) -> Searcher:
    return Searcher.from_seeds(seeds_copy, real_cache)


def test_real_seeds_answer_a_plain_question(real: Searcher) -> None:
    answer = real.ask("上班的时候能喝酒吗？")
    assert answer.answered
    best = answer.hits[0]
    assert "不准喝酒" in best.clause.text
    assert "喝酒" in best.matched
    # The rule is printed in two documents: answered once, naming both.
    assert len({best.clause.doc, *(c.doc for c in best.also)}) >= 2


# 工资什么时候发 shares 工资 and 发(放) with 奖金随月度工资进行发放: lexically covered, a known limit of
# word-overlap abstention (the dev set's 工资每个月几号发 is the same case). The engine before the
# rarity-coverage rule abstained on it only through min_score, which also abstained on ~5 answerable
# dev questions. strict: when a future method gets it right, this marker must go.
WAGES = pytest.param(
    "工资什么时候发？",
    marks=pytest.mark.xfail(strict=True, reason="lexically covered by 奖金随月度工资进行发放"),
)


# The key word of each is in no rule (取暖费, 提成, 团建), while the rest of the question is (值班,
# 客服): the missing word carries most of the question's weight, so coverage stays low.
MISSING_KEY_WORD = ["冬天值班有取暖费吗", "客服的提成怎么算", "公司团建一般去哪玩"]
# Its other words are common duty-desk words (巡逻, 带) that the rules hold, but its most specific
# word (对讲机) is in none: the gap in the abstention measure keeps it unanswered.
RADIO = "巡逻要带对讲机吗"


@pytest.mark.parametrize(
    "question", ["公司年假有几天？", "今天天气怎么样？", "食堂几点开饭？", WAGES, *MISSING_KEY_WORD, RADIO]
)
def test_real_seeds_abstain_out_of_scope(real: Searcher, question: str) -> None:
    answer = real.ask(question, k=3)
    assert not answer.answered, (answer.reason, answer.coverage, answer.hits[0].score)
    assert answer.reason in {"low_confidence", "low_score", "no_match"}
    assert len(answer.hits) == 3  # still the closest clauses


@pytest.mark.parametrize("question", ODD_QUESTIONS)
def test_real_seeds_odd_input(real: Searcher, question: str) -> None:
    answer = real.ask(question)
    assert len(answer.hits) == 3
    assert answer.reason != "empty" or answer.terms == ()


def test_real_seeds_every_clause_indexed_once(real: Searcher) -> None:
    assert real.index.size == len(real.clauses)
    assert len({c.id for c in real.clauses}) == len(real.clauses)


def test_cache_is_reused(seeds_copy: Path, real_cache: Path, real: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    [cached] = real_cache.glob("index-*.npz")

    def no_building(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the index was rebuilt although the seeds did not change")

    monkeypatch.setattr(BM25Index, "__init__", no_building)
    again = Searcher.from_seeds(seeds_copy, real_cache)
    assert list(real_cache.glob("index-*.npz")) == [cached]
    question = "晚上几点关大门"
    assert again.ask(question).hits == real.ask(question).hits


def test_cache_follows_seed_changes(tmp_path: Path, seeds_copy: Path, real_cache: Path, real: Searcher) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_copy, seeds)
    cache = tmp_path / "cache"
    shutil.copytree(real_cache, cache)  # warm jieba caches, same seeds: the index is reused
    first = Searcher.from_seeds(seeds, cache)
    [before] = cache.glob("index-*.npz")
    assert not first.ask("鹦鹉多久喂一次").answered

    # A new regulation file: a new key, a rebuilt index that knows the new rule, the old file gone.
    (seeds / "regulations" / "zz_new.txt").write_text(
        "鹦鹉饲养守则\n\n一、值班室的鹦鹉每天早上喂一次小米。\n\n二、鹦鹉笼每周清洗一次。\n", encoding="utf-8"
    )
    second = Searcher.from_seeds(seeds, cache)
    [after] = cache.glob("index-*.npz")
    assert after != before
    assert len(second.clauses) > len(first.clauses)
    assert "鹦鹉" in second.ask("鹦鹉多久喂一次").hits[0].clause.text

    # A lexicon change also gives a new key: 鹦鹉 as a stopword can no longer be found.
    with (seeds / "lexicon" / "stopwords.txt").open("a", encoding="utf-8") as fh:
        fh.write("\n鹦鹉\n")
    third = Searcher.from_seeds(seeds, cache)
    [latest] = cache.glob("index-*.npz")
    assert latest not in (before, after)
    assert "鹦鹉" not in third.ask("鹦鹉").terms


def test_broken_cache_file_is_rebuilt(tmp_path: Path, seeds_copy: Path, real_cache: Path, real: Searcher) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(real_cache, cache)
    [cached] = cache.glob("index-*.npz")
    cached.write_bytes(b"not a numpy file")
    searcher = Searcher.from_seeds(seeds_copy, cache)
    assert searcher.ask("晚上几点关大门").hits == real.ask("晚上几点关大门").hits
    assert cached.read_bytes()[:2] == b"PK"  # rewritten as a real npz (a zip)


def test_a_specific_thing_also_searches_the_rules_general_word(tmp_path: Path) -> None:
    from dataclasses import replace

    # Its own cache folder: a prepared dictionary replaces the other lexicons' ones in its folder.
    lexicon = replace(TEST_LEXICON, related={"梯子": ("物资",), "刷抖音": ("无关",)})
    tk = Tokenizer(lexicon, tmp_path)
    clauses = [
        *SYNTHETIC,
        clause("d1", "更夫守则", "六、", "对国家财产和物资只有看管义务,没有外借的权利。"),
        clause("d2", "更夫守则", "七、", "不准干与工作无关的事。"),
    ]
    with_related = Searcher(clauses, tk, min_score=1.0)
    answer = with_related.ask("梯子能外借吗")
    assert answer.answered and answer.hits[0].clause.id == "d1"
    assert "物资" in answer.hits[0].matched  # shown (and highlighted) as what matched
    assert "无关" in with_related.terms("值班刷抖音")
    # Without the related word the rule covers only part of the question: not answered.
    plain = Searcher(clauses, Tokenizer(TEST_LEXICON, tmp_path / "plain"), min_score=1.0)
    without = plain.ask("梯子能外借吗")
    assert not without.answered and without.confidence < answer.confidence


def test_a_story_is_judged_by_its_last_sentence_too(seeds_copy: Path, real_cache: Path) -> None:
    # The story dilutes the question's words; the ask is at the end, and the best clause covers it.
    story = "今晚轮到我值夜班，外头刮大风下大雨，老板也不在，我能不能喝两口白酒暖和暖和"
    judged = Searcher.from_seeds(seeds_copy, real_cache)
    whole_only = Searcher.from_seeds(seeds_copy, real_cache, judge_last_sentence=False)
    answer, plain = judged.ask(story), whole_only.ask(story)
    assert answer.answered and "不准喝酒" in answer.hits[0].clause.text
    assert not plain.answered and plain.hits[0].clause.id == answer.hits[0].clause.id
    assert answer.confidence > plain.confidence
    # One sentence, or a short last one (这样行不): nothing to judge apart.
    assert judged._last_sentence("值班能回家吃饭吗") is None
    assert judged._last_sentence("值班的时候,这样行不") is None


def test_typo_repair_readings_are_kept_in_the_cache(tmp_path: Path) -> None:
    # The first process makes the reading table; a later one repairs typos without importing
    # pypinyin (0.2-0.4 s of a cold `dutybot ask`). A fresh interpreter shows what really loads.
    import subprocess
    import sys

    seeds = copy_seeds(tmp_path / "seeds")
    cache = tmp_path / "cache"
    first = Searcher.from_seeds(seeds, cache)
    assert first.repair("工地能不能用消访栓洗车") == "工地能不能用消防栓洗车"
    assert len(list(cache.glob("readings-*.bin"))) == 1
    code = (
        "import sys; from pathlib import Path; from retrieval.search import Searcher; "
        f"s = Searcher.from_seeds(Path({str(seeds)!r}), Path({str(cache)!r})); "
        "print(s.repair('工地能不能用消访栓洗车'), 'pypinyin' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["工地能不能用消防栓洗车", "False"]
