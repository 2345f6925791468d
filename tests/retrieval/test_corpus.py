"""retrieval.corpus: raw scraped regulations → documents → clauses.

Most tests run on the bundled seed file; small synthetic texts pin each numbering style and the
false positives (dates, fractions, standard numbers, "每月20日") the label finder must reject.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from retrieval.corpus import (
    CLAUSE_MAX,
    WATERMARKS,
    _main,
    all_clauses,
    clean_title,
    find_clauses,
    load_corpus,
    parse_text,
)
from retrieval.model import Clause, Document

SEED_DIR = Path(__file__).resolve().parents[2] / "seeds" / "regulations"
SEED_FILE = SEED_DIR / "000_412dcc7ef811b03a.txt"

TITLES = [
    "值班人员管理规定",
    "更夫守则",
    "客户服务标准规定范文",
    "现代科技信息手段规范和创新管理的指导意见",
    "招商运营各流程及管理规定",
    "公司项目管理制度规范",
    "项目客户服务管理操作规范细则",
    "流程规范管理制度",
    "IT服务管理规范",
    "公司客户售后服务管理规范",
    "公司创新管理制度",
    "流程管理办法",
    "项目管理实施流程规范",
    "客户服务部规范化管理",
    "技术质量创新委员会工作准则及管理办法",
    "项目管理流程及规范",
    "信息服务管理规范(运维)",
    "客服管理规范",
    "创新改善管理规定",
    "商品管理规范流程",
]


@pytest.fixture(scope="module")
def raw() -> str:
    return SEED_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def docs(raw: str) -> list[Document]:
    return parse_text(raw)


def doc(docs: list[Document], title: str) -> Document:
    return next(d for d in docs if d.title == title)


def one(docs: list[Document], ref: str) -> Clause:
    found = find_clauses(docs, ref)
    assert len(found) == 1, (ref, [c.citation for c in found])
    return found[0]


def paths(docs: list[Document], title: str) -> list[tuple[str, ...]]:
    return [c.path for c in doc(docs, title).clauses]


# --- documents ------------------------------------------------------------------------------------


def test_document_titles(docs: list[Document]) -> None:
    # 更夫管理守则 is a title line with no body of its own heading the next two documents: no document.
    assert [d.title for d in docs] == TITLES
    for d in docs:
        assert not re.search(r"目录|相关文档|最新文档|首建集团|下载资料库|更夫管理守则", d.title)


def test_toc_only_documents_have_no_clauses(docs: list[Document]) -> None:
    # Their excerpts are nothing but a table of contents.
    assert doc(docs, "公司客户售后服务管理规范").clauses == ()
    assert doc(docs, "客户服务部规范化管理").clauses == ()
    assert all(d.clauses for d in docs if d.title not in {"公司客户售后服务管理规范", "客户服务部规范化管理"})


def test_clause_counts(docs: list[Document]) -> None:
    counts = {d.title: len(d.clauses) for d in docs}
    assert counts["值班人员管理规定"] == 11
    assert counts["更夫守则"] == 11
    assert counts["技术质量创新委员会工作准则及管理办法"] == 11
    assert counts["流程规范管理制度"] == 19
    assert 250 <= sum(counts.values()) <= 300


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("《客户服务部规范化管理》[1]", "客户服务部规范化管理"),
        ("项目管理实施流程规范(1)", "项目管理实施流程规范"),
        ("(完整版)信息服务管理规范(运维)", "信息服务管理规范(运维)"),
        ("现代科技信息手段规范和创新管理的指导意见(doc 10页)", "现代科技信息手段规范和创新管理的指导意见"),
        ("保安管理制度（精品）（试行）", "保安管理制度（试行）"),
        ("客 服 管 理 规 范", "客服管理规范"),
        ("更夫守则", "更夫守则"),
    ],
)
def test_clean_title(line: str, title: str) -> None:
    assert clean_title(line) == title


# --- clauses of the bundled file ------------------------------------------------------------------


def test_watchman_rules(docs: list[Document]) -> None:
    assert one(docs, "《更夫守则》十、").text == "晚上九点钟以前必须关闭大门。"
    assert "上班时不准喝酒" in one(docs, "《值班人员管理规定》四、").text
    labels = [p[-1] for p in paths(docs, "值班人员管理规定")]
    assert labels == ["一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、", "九、", "十、", "十一"]
    # Printed "十一积极控制突发事件" (no 、) is still the eleventh rule.
    assert one(docs, "《值班人员管理规定》十一").text == "积极控制突发事件、并及时向项目部领导汇报。"


def test_signatures_are_not_clause_text(docs: list[Document]) -> None:
    for c in doc(docs, "值班人员管理规定").clauses + doc(docs, "更夫守则").clauses:
        assert "首建集团" not in c.text


def test_note_of_watchman_rules(docs: list[Document]) -> None:
    note = one(docs, "《更夫守则》注")
    assert note.path == ("注",)
    assert note.text == "发生案情要逐级报案,情况紧急时方可越级上报。"


def test_page_break_joins(docs: list[Document]) -> None:
    t = "招商运营各流程及管理规定"
    assert one(docs, f"《{t}》商铺进场撤场管理规定 › 一. › 1.").text == (
        "招商部签定租赁合同完成之后需传单至运营部,运营部接单后负责装修审批、协助商户进场工作。"
    )
    section = f"《{t}》商铺进场撤场管理规定"
    assert "我司将强制收回铺位,并自行采取措施" in one(docs, f"{section} › 三. › (一) › 7.").text
    # "…扣留物品。5.财务室…": a label right after a full stop, no space.
    four = one(docs, f"{section} › 二. › 4.")
    assert four.text == "营运部负责清点、保管及处理商户撤场后的遗留物品或扣留物品。"
    assert one(docs, f"{section} › 二. › 5.").text == "财务室负责出具结算单及商户的各项费用结算工作。"
    assert "在思想上、组织上、工作上的准备依然不足。" in " ".join(
        c.text for c in doc(docs, "现代科技信息手段规范和创新管理的指导意见").clauses
    )


def test_deep_path_with_unnumbered_section(docs: list[Document]) -> None:
    c = one(docs, "《招商运营各流程及管理规定》商铺进场撤场管理规定 › 三. › (一) › 4.")
    assert c.path == ("商铺进场撤场管理规定", "三.", "(一)", "4.")
    assert c.text.startswith("营运部必须在商户撤场一周前将《撤场审批表》上报审批")
    assert c.headings == ("商铺进场撤场管理规定", "撤场工作流程", "无欠款情况撤场")
    assert c.citation == "《招商运营各流程及管理规定》商铺进场撤场管理规定 › 三. › (一) › 4."
    # 运营部日常工作管理规定 is a section of the document too, not a document of its own.
    assert ("运营部日常工作管理规定",) in paths(docs, "招商运营各流程及管理规定")


def test_it_service_lettered_items(docs: list[Document]) -> None:
    t = "IT服务管理规范"
    items = [c for c in doc(docs, t).clauses if c.path[:2] == ("4", "4.2") and len(c.path) == 3]
    assert [c.path[-1] for c in items] == ["a)", "b)", "c)", "d)", "e)", "f)"]
    assert items[0].text == "组织范围内服务管理的范围;"
    assert items[-1].text == "达到预定目标所需的资源。"
    assert items[0].headings == ("总则", "服务管理策划")
    own = [c for c in doc(docs, t).clauses if c.path == ("4", "4.2")]
    assert own[0].text.startswith("服务管理策划 目的:为实施服务管理活动提供管理指南和资源。")
    # The paragraph after the list belongs to 4.2, not to f).
    assert own[1].text.startswith("服务管理计划应包括关于其实施、保持和授权的信息。")
    assert one(docs, f"《{t}》4 › 4.3 › 注").text == "这可能包括代理人员、合同人员和顾问。"
    # "服务改进计划3.20 服务水平协议" is split although 3.20 is glued to the previous word.
    assert one(docs, f"《{t}》3 › 3.20").text == "服务水平协议"


def test_innovation_nested_circled_numbers(docs: list[Document]) -> None:
    c = one(docs, "《公司创新管理制度》第一章 › 2、 › ⑵ › ③")
    assert c.text == "技术引进与引进设备、技术的改造、技术发明;"
    assert c.headings == ("范围及定义", "技术创新")
    assert one(docs, "《公司创新管理制度》第一章 › 2、 › ⑶ › ⑥").text == "其他与公司管理有关的合理化建议。"
    assert one(docs, "《公司创新管理制度》第三章 › 3、 › ⑸").text == "对采纳的合理化建议组织实施。"


def test_bracketed_codes(docs: list[Document]) -> None:
    c = one(docs, "《项目管理实施流程规范》三 › 3.1 › 【P1-01】")
    assert c.text.startswith("项目经理制定项目计划。")
    assert [p[-1] for p in paths(docs, "项目管理实施流程规范") if len(p) == 3] == [
        "【P1-01】", "【P1-02】", "【P1-03】", "【P1-04】",
    ]


def test_articles(docs: list[Document]) -> None:
    first = one(docs, "《技术质量创新委员会工作准则及管理办法》第一章 › 第一条")
    assert first.text.startswith("为了进一步改进技术质量创新管理体系")
    assert first.headings == ("总则",)
    labels = [p[-1] for p in paths(docs, "技术质量创新委员会工作准则及管理办法")]
    assert labels[0] == "第一条" and labels[-1] == "第十一条" and len(labels) == 11


def test_no_watermark_in_clauses(docs: list[Document]) -> None:
    for c in all_clauses(docs):
        assert all(mark not in c.text for mark in WATERMARKS)
        assert "下载资料库" not in c.text


def test_tables_of_contents_are_not_clauses(docs: list[Document]) -> None:
    for c in all_clauses(docs):
        assert len(re.findall(r"[(（]\d{1,3}[)）]\s", c.text + " ")) < 2, c.citation
        assert "目录" not in c.text, c.citation
    # Entries that only exist in 客服管理规范's 目录 are not clauses; its body starts at 第一章 again.
    texts = {c.text for c in doc(docs, "客服管理规范").clauses}
    assert not any("客服岗位制度" in t or "服务用语禁忌" in t for t in texts)
    # The page-numbered TOC of 项目管理实施流程规范 does not duplicate 1.1 … 3.2.
    impl = paths(docs, "项目管理实施流程规范")
    assert impl.count(("一", "1.1")) == 1
    assert {p[0] for p in impl} == {"一", "二", "三"}
    # 项目管理流程及规范: "目录 1. 文档目的 (3) …" is dropped, the body's "1.文档目的" kept once.
    assert paths(docs, "项目管理流程及规范").count(("1.",)) == 1


def test_preambles_have_empty_path(docs: list[Document]) -> None:
    pre = [c for c in doc(docs, "公司创新管理制度").clauses if c.path == ()]
    assert [c.text for c in pre] == [
        "为调动广大员工开展创新工作的积极性,营造创新环境,建立公司内部创新机制,规范公司创新项目管理行为,特制定本制度。"
    ]
    assert pre[0].citation == "《公司创新管理制度》"
    # The title echo at the body's start ("创新管理制度 为调动…") is not part of the preamble.
    assert not pre[0].text.startswith("创新管理制度")


def test_unnumbered_document_parts(docs: list[Document]) -> None:
    d = doc(docs, "客户服务标准规定范文")
    assert [c.path for c in d.clauses] == [(), ("1",), ("2",)]
    assert d.clauses[1].text.startswith("定期服务内容 提供SCMS信息管理系统")
    assert d.clauses[2].text.endswith("说明:服务内容不包括硬件系统的安装、调试等工作。")


def test_long_runs_are_split(docs: list[Document]) -> None:
    for c in all_clauses(docs):
        assert len(c.text) <= CLAUSE_MAX, c.citation
    pre = [c for c in doc(docs, "现代科技信息手段规范和创新管理的指导意见").clauses if c.path == ()]
    assert len(pre) == 2 and len({c.id for c in pre}) == 2


def test_ids_stable_unique_short(raw: str, docs: list[Document], tmp_path: Path) -> None:
    ids = [c.id for c in all_clauses(docs)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[0-9a-f]{8}(-\d+)?", i) for i in ids)
    assert [c.id for c in all_clauses(parse_text(raw))] == ids
    shutil.copy(SEED_FILE, tmp_path / SEED_FILE.name)
    assert [c.id for c in all_clauses(load_corpus(tmp_path))] == ids
    # Same clause, same id, whatever else the file holds.
    assert one(docs, "《更夫守则》十、").id == "e8ecc287"


def test_duplicate_rules_are_linked(docs: list[Document]) -> None:
    duty, watch = doc(docs, "值班人员管理规定"), doc(docs, "更夫守则")
    by_id = {c.id: c for c in all_clauses(docs)}
    for label in ["一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、", "九、"]:
        a = next(c for c in duty.clauses if c.path == (label,))
        b = next(c for c in watch.clauses if c.path == (label,))
        assert a.also_in == (b.id,) and b.also_in == (a.id,), label
    # Different rules under the same number are not linked.
    assert one(docs, "《更夫守则》十、").also_in == ()
    assert one(docs, "《值班人员管理规定》十、").also_in == ()
    for c in all_clauses(docs):
        for other in c.also_in:
            assert by_id[other].doc != c.doc and c.id in by_id[other].also_in


def test_find_clauses(docs: list[Document]) -> None:
    ten = one(docs, "《更夫守则》十、")
    assert find_clauses(docs, ten.id) == [ten]
    assert find_clauses(docs, "更夫守则 十") == [ten]
    assert find_clauses(docs, "《更夫守则》十") == [ten]
    assert find_clauses(docs, "《更夫守则》 十、 ") == [ten]
    assert len(find_clauses(docs, "《更夫守则》")) == 11
    assert len(find_clauses(docs, "更夫守则")) == 11
    deep = "《招商运营各流程及管理规定》商铺进场撤场管理规定 › 三. › (一) › 4."
    target = one(docs, deep)
    assert find_clauses(docs, "《招商运营各流程及管理规定》商铺进场撤场管理规定›三.›（一）›4.") == [target]
    assert find_clauses(docs, "招商运营各流程及管理规定 商铺进场撤场管理规定 三. (一) 4.") == [target]
    assert find_clauses(docs, "《招商运营各流程及管理规定》三.(一)4.") == [target]  # section left out
    prefix = find_clauses(docs, "《招商运营各流程及管理规定》商铺进场撤场管理规定 › 三.")
    assert len(prefix) == 16 and all(c.path[:2] == ("商铺进场撤场管理规定", "三.") for c in prefix)
    assert find_clauses(docs, "《更夫守则》十二、") == []
    assert find_clauses(docs, "《没有这个文件》") == []
    assert find_clauses(docs, "") == []


def _runs(text: str) -> list[str]:
    """Chinese runs of 6+ chars, numbering labels glued to them removed (labels are not text)."""
    text = re.sub(r"第[一二三四五六七八九十百零]+[章节条]", " ", text)
    runs = re.findall(r"[\u4e00-\u9fff]{6,}", text)
    return [r for r in (re.sub(r"^[一二三四五六七八九十]+", "", r) for r in runs) if len(r) >= 6]


# Line numbers (1-based) of the bundled file that are not rule text: titles, tables of contents, footer.
TITLE_LINES = {
    1, 3, 4, 6, 32, 58, 64, 70, 82, 88, 92, 98, 110, 118, 124, 128, 140, 146, 150, 162, 170, 178, 182,
}
TOC_LINES = {112, 114, 116, 132, 142, 144, 154, 168, 174}
FOOTER_LINES = {188, 189}
# Title echoes, signatures, a sign-off date and a section heading whose content the excerpt lost.
NOT_RULE_TEXT = {
    "首建集团华骏项目部",
    "首建集团二分公司武装保卫科",
    "国土资源部关于进一步运用",
    "操作规范及细则",
    "北京泰华集团技术质量创新委员会工作准则",
    "大连软件行业规范",
    "改善管理制度",
    "年十月二十八日",
    "招商运营各岗位职责",
}


def test_no_rule_text_is_lost(raw: str, docs: list[Document]) -> None:
    pieces = [d.title for d in docs]
    for c in all_clauses(docs):
        pieces += ["".join(c.path) + c.text, *c.headings]
    haystack = re.sub(r"\s+", "", "\n".join(pieces))
    missing = []
    for number, line in enumerate(raw.split("\n"), start=1):
        if number in TITLE_LINES | TOC_LINES | FOOTER_LINES:
            continue
        for mark in WATERMARKS:
            line = line.replace(mark, " ")
        missing += [run for run in _runs(line) if run not in haystack]
    assert set(missing) <= NOT_RULE_TEXT, sorted(set(missing) - NOT_RULE_TEXT)


def test_parsing_is_fast(raw: str) -> None:
    timings = []
    for _ in range(5):  # best of five: the machine may be busy
        start = time.perf_counter()
        parse_text(raw)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.1, f"{min(timings) * 1000:.0f} ms"


def test_debug_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(SEED_FILE, tmp_path / SEED_FILE.name)
    assert _main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "== 《更夫守则》 11 clauses" in out
    assert "《更夫守则》十、  晚上九点钟以前必须关闭大门。" in out
    assert out.rstrip().endswith(f"20 documents, {len(all_clauses(load_corpus(tmp_path)))} clauses")


# --- synthetic texts: numbering styles --------------------------------------------------------------


def parse_one(body: str, title: str = "测试管理规定") -> Document:
    docs = parse_text(f"{title}\n\n{body}\n")
    assert [d.title for d in docs] == [title]
    return docs[0]


def cites(d: Document) -> list[tuple[tuple[str, ...], str]]:
    return [(c.path, c.text) for c in d.clauses]


def test_chapters_articles_run_through_document() -> None:
    d = parse_one("第一章 总则 第一条 甲。 第二条 乙。 第二章 附则 第三条 丙。")
    assert cites(d) == [
        (("第一章", "第一条"), "甲。"), (("第一章", "第二条"), "乙。"), (("第二章", "第三条"), "丙。"),
    ]
    assert d.clauses[2].headings == ("附则",)


def test_sections_inside_chapters() -> None:
    d = parse_one("第一章 总则\n\n第一节 职责 一、甲。 二、乙。 第二节 权限 一、丙。")
    assert [c.path for c in d.clauses] == [
        ("第一章", "第一节", "一、"), ("第一章", "第一节", "二、"), ("第一章", "第二节", "一、"),
    ]


def test_chinese_numerals_and_parenthesised() -> None:
    d = parse_one("一、总则 (一)甲。 （二）乙。 二、附则 (一)丙。")
    assert [c.path for c in d.clauses] == [("一、", "(一)"), ("一、", "（二）"), ("二、", "(一)")]
    assert d.clauses[0].headings == ("总则",)


def test_chinese_numeral_with_dot_then_arabic_dot() -> None:
    d = parse_one("一.进场 1.甲。 2.乙。 二.撤场 1.丙。")
    assert [c.path for c in d.clauses] == [("一.", "1."), ("一.", "2."), ("二.", "1.")]


def test_bare_numerals_and_decimals() -> None:
    d = parse_one("一前言 1.1目的 甲。 1.2范围 乙。\n\n二总则 2.1 丙。 2.1.1 丁。")
    assert [c.path for c in d.clauses] == [
        ("一", "1.1"), ("一", "1.2"), ("二", "2.1"), ("二", "2.1", "2.1.1"),
    ]
    assert [c.text for c in d.clauses][:2] == ["目的 甲。", "范围 乙。"]


def test_bare_numeral_continues_punctuated_list() -> None:
    d = parse_one("九、甲。\n\n十、乙。\n\n十一丙丁戊。")
    assert [c.path for c in d.clauses] == [("九、",), ("十、",), ("十一",)]


def test_arabic_styles() -> None:
    assert [c.path for c in parse_one("1、甲; 2、乙。").clauses] == [("1、",), ("2、",)]
    assert [c.path for c in parse_one("1. 甲 2. 乙").clauses] == [("1.",), ("2.",)]
    assert [c.path for c in parse_one("1 范围 甲。 2 定义 乙。").clauses] == [("1",), ("2",)]
    assert [c.path for c in parse_one("1定期服务内容 甲。 2 不定期服务内容 乙。").clauses] == [("1",), ("2",)]


def test_item_styles_nest() -> None:
    d = parse_one(
        "1、会议立项包括: 1)任命经理; 2)主持会议,要求如下: ⑴甲; ⑵乙,包括: ①丙; ②丁,分为: a) 戊; b) 己,分为: "
        "A.庚; B.辛,包括: ●壬 ●癸 注:子。 【P1-01】:丑。 【P1-02】:寅。"
    )
    # "会议立项包括:" only heads its items: it is their heading, not a clause of its own.
    assert [c.path for c in d.clauses] == [
        ("1、", "1)"),
        ("1、", "2)"),
        ("1、", "2)", "⑴"),
        ("1、", "2)", "⑵"),
        ("1、", "2)", "⑵", "①"),
        ("1、", "2)", "⑵", "②"),
        ("1、", "2)", "⑵", "②", "a)"),
        ("1、", "2)", "⑵", "②", "b)"),
        ("1、", "2)", "⑵", "②", "b)", "A."),
        ("1、", "2)", "⑵", "②", "b)", "B."),
        ("1、", "2)", "⑵", "②", "b)", "B.", "●"),
        ("1、", "2)", "⑵", "②", "b)", "B.", "●"),
        ("1、", "注"),  # a note belongs to the nearest titled clause
        ("1、", "注", "【P1-01】"),
        ("1、", "注", "【P1-02】"),
    ]
    assert d.clauses[3].headings == ("会议立项包括", "主持会议")
    assert [c.text for c in d.clauses][-5:] == ["壬", "癸", "子。", "丑。", "寅。"]


def test_numbered_notes_are_siblings() -> None:
    d = parse_one("1 术语 本章定义术语。 1.1 流程 一组活动。 注1:甲。 注2:乙。 1.2 流程图 丙。")
    assert [c.path for c in d.clauses] == [
        ("1",), ("1", "1.1"), ("1", "1.1", "注1"), ("1", "1.1", "注2"), ("1", "1.2"),
    ]


def test_decimal_under_arabic_parent() -> None:
    d = parse_one("3、项目启动 3.1项目章程: 甲。 3.2项目启动会议: 乙。 4、项目结束 丙。")
    assert [c.path for c in d.clauses] == [("3、", "3.1"), ("3、", "3.2"), ("4、",)]
    assert d.clauses[1].text == "项目启动会议: 乙。"


# --- synthetic texts: false positives -------------------------------------------------------------


def test_numbers_inside_text_are_not_labels() -> None:
    body = (
        "一、每月 20日汇总,每月20日发放,由参与会议的 2/3以上表决通过。\n\n"
        "二、依据 GB/T 19580-2012 卓越绩效评价准则,于 2016年11月09日 发布,共 3个 工作日。\n\n"
        "三、评选出个人一、二、三等奖,工资按 1.5倍 计算,升级到 2.1 版本,建立全国 一张图。"
    )
    d = parse_one(body)
    assert [c.path for c in d.clauses] == [("一、",), ("二、",), ("三、",)]
    assert d.clauses[0].text == "每月 20日汇总,每月20日发放,由参与会议的 2/3以上表决通过。"
    assert "GB/T 19580-2012 卓越绩效评价准则,于 2016年11月09日 发布" in d.clauses[1].text
    assert d.clauses[2].text.endswith("升级到 2.1 版本,建立全国 一张图。")


def test_out_of_sequence_numbers_are_text() -> None:
    d = parse_one("1 范围 本标准适用。 2 引用文件 Q/PZHYC 1001 质量手册 5 年内有效 3 定义 甲。")
    assert [c.path for c in d.clauses] == [("1",), ("2",), ("3",)]
    assert d.clauses[1].text == "引用文件 Q/PZHYC 1001 质量手册 5 年内有效"


def test_decimal_version_at_top_is_text() -> None:
    d = parse_one("本制度自 2.1 版起施行。 3.2 以后作废。")
    assert cites(d) == [((), "本制度自 2.1 版起施行。 3.2 以后作废。")]


# --- synthetic texts: document layout -------------------------------------------------------------


def test_toc_block_until_numbering_restarts() -> None:
    d = parse_one("目录 一、总则 二、细则\n\n一、总则 甲。 二、细则 乙。")
    assert cites(d) == [(("一、",), "总则 甲。"), (("二、",), "细则 乙。")]


def test_toc_with_page_numbers() -> None:
    d = parse_one("第一章 总则 (3) 第一节 职责 (3) 第二节 权限 (4)\n\n第一章 总则 第一条 甲。")
    assert cites(d) == [(("第一章", "第一条"), "甲。")]


def test_footer_watermark_signature_and_repeated_titles() -> None:
    raw = (
        "保安守则汇编\n\n保安守则\n保安守则\n\n一、不准脱岗。中国最庞大的下载资料库下载\n\n二、不准睡岗\n\n"
        "。某某集团保卫部\n\n门卫管理规定\n\n门卫管理规定 一、登记来访人员。"
        "\n\n相关文档\n\n停车场管理规定\n\n最新文档"
    )
    docs = parse_text(raw)
    assert [d.title for d in docs] == ["保安守则", "门卫管理规定"]
    assert cites(docs[0]) == [(("一、",), "不准脱岗。"), (("二、",), "不准睡岗")]
    assert cites(docs[1]) == [(("一、",), "登记来访人员。")]


def test_page_break_join_and_preamble() -> None:
    d = parse_one(
        "为了加强管理,特制定本规定。\n\n一、值班人员必须尽职尽责,忠于职守,不擅离岗位,并认真填写交接\n\n班记录。\n\n二、不准喝酒。"
    )
    assert cites(d) == [
        ((), "为了加强管理,特制定本规定。"),
        (("一、",), "值班人员必须尽职尽责,忠于职守,不擅离岗位,并认真填写交接班记录。"),
        (("二、",), "不准喝酒。"),
    ]


def test_unnumbered_section_heading() -> None:
    section = "商铺进场撤场管理规定"
    d = parse_one(f"{section} 一.进场管理规定 1.甲。 二.撤场管理规定 1.乙。", title="招商运营管理规定")
    assert [c.path for c in d.clauses] == [(section, "一.", "1."), (section, "二.", "1.")]
    assert d.clauses[1].headings == (section, "撤场管理规定")


def test_long_unnumbered_text_is_split() -> None:
    text = "".join(f"值班人员应当按时巡查第{i}号区域并做好记录，发现异常情况及时上报。" for i in range(30))
    d = parse_one(text)
    assert len(d.clauses) > 1
    assert all(c.path == () and len(c.text) <= CLAUSE_MAX for c in d.clauses)
    assert "".join(c.text for c in d.clauses) == text
    assert len({c.id for c in d.clauses}) == len(d.clauses)


def test_sentence_ending_in_a_noun_is_not_a_title() -> None:
    d = parse_one("一、值班人员必须登记。\n\n具体办法另行规定\n\n二、不准喝酒。")
    assert [c.path for c in d.clauses] == [("一、",), ("二、",)]
    assert d.clauses[0].text == "值班人员必须登记。 具体办法另行规定"


def test_untitled_text_still_parses() -> None:
    docs = parse_text("一、不准脱岗。\n\n二、不准睡岗。")
    assert [len(d.clauses) for d in docs] == [2]


def test_load_corpus_links_across_files(tmp_path: Path) -> None:
    a_text = "甲单位门卫规定\n\n一、来访人员必须登记姓名和事由后方可进入。\n"
    b_text = "\ufeff乙单位门卫规定\n\n一、来访人员必须登记姓名和事由后才能进入。\n"
    (tmp_path / "a.txt").write_text(a_text, encoding="utf-8")
    (tmp_path / "b.txt").write_text(b_text, encoding="utf-8")
    (tmp_path / "ignored.md").write_text("丙规定\n\n一、无关。\n", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [d.title for d in docs] == ["甲单位门卫规定", "乙单位门卫规定"]
    a, b = docs[0].clauses[0], docs[1].clauses[0]
    assert a.also_in == (b.id,) and b.also_in == (a.id,)
