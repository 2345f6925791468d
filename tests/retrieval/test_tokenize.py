"""Normalisation and segmentation: the same text always yields the same terms on both sides."""

from __future__ import annotations

from pathlib import Path

import jieba
import pytest

from retrieval import tokenize
from retrieval.lexicon import Lexicon
from retrieval.tokenize import Tokenizer, normalize
from tests.retrieval import TEST_LEXICON, session_cache


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def tk(cache_dir: Path) -> Tokenizer:
    tokenizer = Tokenizer(TEST_LEXICON, cache_dir)
    tokenizer.load()
    return tokenizer


def words(tk: Tokenizer, text: str) -> list[str]:
    """Words and sub-words (what jieba's cut_for_search gives), without the character layer."""
    a = tk.analyze(text)
    return [*a.words, *a.subwords]


# --- normalize --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３，喝酒！", "abc123,喝酒!"),  # full-width → half-width, lowercase
        ("值班時睡覺怎麼處理", "值班时睡觉怎么处理"),  # traditional → simplified
        ("喝\u200b酒", "喝酒"),  # zero-width space must not split a word
        ("上班\x00时\x07间", "上班时间"),  # control characters dropped
        ("  上班\t\n时间\u3000 可以 ", "上班 时间 可以"),  # whitespace folded, ideographic space too
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


# --- tokens -----------------------------------------------------------------------------------------


def test_stopwords_question_words_and_punctuation_dropped(tk: Tokenizer) -> None:
    assert words(tk, "请问上班的时候可以喝酒吗？") == ["上班", "时候", "喝酒"]
    assert words(tk, "怎么办？？！！……") == []


def test_synonyms_map_to_the_canonical_word_on_both_sides(tk: Tokenizer) -> None:
    assert "吸烟" in words(tk, "上班能抽烟吗") and "抽烟" not in words(tk, "上班能抽烟吗")
    assert "吸烟" in words(tk, "施工现场严禁吸烟")
    assert "盗窃" in words(tk, "有人偷了材料")


def test_user_dictionary_words_stay_whole(tk: Tokenizer) -> None:
    for word in ("睡岗", "串岗", "脱岗"):
        assert word in words(tk, f"值班不准{word}")


def test_single_characters(tk: Tokenizer) -> None:
    # A Chinese character that jieba leaves alone is a word (酒, 拿); a lone Latin letter is noise.
    assert words(tk, "他拿了一瓶酒") == ["他", "拿", "一瓶", "酒"]
    assert words(tk, "a b c") == []
    assert words(tk, "wifi 密码") == ["wifi", "密码"]


def test_characters_of_words_follow_the_words_once_per_position(tk: Tokenizer) -> None:
    a = tk.analyze("出门要锁门")
    assert a.words == ("出门", "要", "锁门")
    assert a.chars == ("出", "门", "锁", "门")
    assert tk.tokens("出门要锁门") == [*a.words, *a.chars]
    # Sub-words of search mode do not repeat characters; stopwords never become characters.
    a = tk.analyze("交接班记录的")
    assert (a.words, a.subwords, a.chars) == (("交接班", "记录"), ("交接", "接班"), ("交", "接", "班", "记", "录"))
    assert a.surfaces == ("交接班", "记录")


def test_traditional_full_width_and_simplified_agree(tk: Tokenizer) -> None:
    assert tk.tokens("上班時不準喝酒") == tk.tokens("上班时不准喝酒")
    assert tk.tokens("ＳＣＭＳ系統") == tk.tokens("scms系统")


@pytest.mark.parametrize("text", ["", "   ", "😀🍺🚬", "？！。，", "\x00\x01\u200b"])
def test_nothing_to_search(tk: Tokenizer, text: str) -> None:
    assert tk.tokens(text) == []


def test_long_text_is_fine(tk: Tokenizer) -> None:
    assert len(tk.tokens("上班时不准喝酒。" * 1250)) > 1000


def test_private_jieba_with_cache_in_the_given_dir(tk: Tokenizer, cache_dir: Path) -> None:
    assert tk._jieba is not None and tk._jieba is not jieba.dt
    assert (cache_dir / f"jieba-{jieba.__version__}.cache").is_file()
    # Our user words were added to our dictionary only, not to jieba's global one.
    assert "睡岗" in tk._jieba.FREQ
    assert not jieba.dt.initialized or "睡岗" not in jieba.dt.FREQ


def test_user_words_and_synonym_phrases_segment_whole(tk: Tokenizer) -> None:
    # 夜巡岗 (user word) and 关灯睡觉 (synonym phrase → 熄灯) come out whole, then their sub-words.
    assert words(tk, "值班员夜巡岗关灯睡觉") == ["值班员", "夜巡岗", "熄灯", "值班", "关灯", "睡觉"]


def test_cut_mode_has_no_subwords(cache_dir: Path, tk: Tokenizer) -> None:
    plain = Tokenizer(TEST_LEXICON, cache_dir, mode="cut", char_unigrams=False)
    plain._jieba = tk._jieba  # share the loaded dictionary: same lexicon
    assert plain.tokens("交接班记录") == ["交接班", "记录"]


def test_prepared_dictionary_is_reused(cache_dir: Path, tk: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenize, "_LOADED", {})  # not the in-process copy: the file in cache_dir
    monkeypatch.setattr(jieba.Tokenizer, "initialize", lambda *_a, **_k: pytest.fail("jieba rebuilt"))
    again = Tokenizer(TEST_LEXICON, cache_dir)
    again.load()
    assert again.tokens("值班员夜巡岗关灯睡觉抽烟") == tk.tokens("值班员夜巡岗关灯睡觉抽烟")


def test_signature_changes_with_options(cache_dir: Path) -> None:
    lexicon = Lexicon()
    assert Tokenizer(lexicon, mode="cut").signature != Tokenizer(lexicon).signature
    assert Tokenizer(lexicon, char_unigrams=False).signature != Tokenizer(lexicon).signature
    assert Tokenizer(lexicon, join_separable=False).signature != Tokenizer(lexicon).signature


# --- separable verbs and rarity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("同事让我帮他顶一下班", "顶班"),  # a lexicon word (synonym of 顶岗 in the seeds)
        ("值班的时候睡个觉行不行", "睡觉"),  # a common dictionary word
        ("晚上回家吃个饭", "吃饭"),
    ],
)
def test_separable_verbs_are_joined(cache_dir: Path, text: str, joined: str) -> None:
    with_synonym = Tokenizer(Lexicon(synonyms={"顶岗": "顶岗", "顶班": "顶岗"}), cache_dir)
    assert joined in with_synonym.cut(text)
    assert with_synonym.analyze(text).surfaces.count(joined) == 1


@pytest.mark.parametrize("text", ["提前一个月书面知会", "每个人都要遵守", "这个客户", "找个人替班"])
def test_quantities_and_unknown_pairs_are_not_joined(tk: Tokenizer, text: str) -> None:
    # 一个月 / 每个人 / 这个客户: a numeral or demonstrative before 个; 找人 is not joined either
    # (too rare a dictionary entry to be sure it is one word).
    assert "".join(tk.cut(text)) == normalize(text)


def test_rarity_follows_general_frequency(tk: Tokenizer) -> None:
    assert tk.rarity("的") < tk.rarity("上班") < tk.rarity("年假") <= tk.rarity("没有这个词xyz")
    assert tk.rarity("没有这个词xyz") == pytest.approx(tk.rarity("另一个生词qqq"))


# --- verb complements ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb"),
    [("审批表要报上去", "报"), ("这事多久能批下来", "批"), ("合同签完了", "签")],
)
def test_verb_complements_are_stripped(cache_dir: Path, text: str, verb: str) -> None:
    tk = Tokenizer(Lexicon(), cache_dir)
    analysis = tk.analyze(text)
    assert verb in analysis.words
    assert not [w for w in analysis.words if len(w) > 1 and w.startswith(verb)]


def test_complement_words_of_the_lexicon_stay_whole(cache_dir: Path) -> None:
    tk = Tokenizer(Lexicon(synonyms={"进入": "进入", "进来": "进入"}), cache_dir)
    assert "进入" in tk.analyze("外人能进来吗").words
    assert Tokenizer(Lexicon(), strip_complements=False).signature != Tokenizer(Lexicon()).signature


def test_jieba_and_zhconv_load_without_pkg_resources() -> None:
    # pkg_resources costs ~0.2 s of a cold `dutybot ask`; both libraries open their own data files
    # without it (retrieval/_fastimport.py). A fresh interpreter shows what an import really pulls in.
    import subprocess
    import sys

    code = (
        "import sys, retrieval.tokenize as t; "
        "print('pkg_resources' in sys.modules, t.normalize('關門'), "
        "len(t.jieba._compat.get_module_res('dict.txt').read(100)) == 100)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "关门", "True"]
