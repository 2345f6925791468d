"""Raw regulations text → documents → clauses.

The seed files are scraped text: document titles on their own lines (sometimes repeated, sometimes
echoed at the start of the body), clauses inline in long lines, page breaks in mid-sentence, tables
of contents, a download-site watermark and footer, stray signature lines. The parser copes with all
of that with general rules (no rule is keyed on a particular title):

1. Lines. Watermarks are cut out, whitespace is collapsed. A footer marker line (相关文档, 最新文档)
   voids everything up to the next title. A short line that ends in a document-type noun (规定, 守则,
   规范, 制度, 办法 ...) is a title; a title repeated while its document has no body yet, or echoed
   (the title line again with decorations), is dropped. A title directly followed by another title
   is a collection heading (更夫管理守则 over 值班人员管理规定 and 更夫守则) and yields no document;
   a document whose body is all table of contents is kept, with no clauses. Short organisation or
   date lines just before a title or the end are a signature and are dropped.
2. Per document. The title echo at the start of the body is dropped; tables of contents are dropped
   (a paragraph with three or more "(N)" page numbers; a block after 目录 up to where its first label
   restarts in the body, or up to the first paragraph with a sentence in it); paragraphs broken in
   mid-sentence by a page break are joined again.
3. Structure. Numbering labels are found at plausible boundaries (paragraph start, after a space or
   sentence punctuation) and placed with a stack, as legal-document parsers do: a label whose style
   is already open is a sibling at that level, a new style opens a level below the current clause
   (so a style's level is the order styles first appear inside the parent), and a sequence check
   (siblings go 1, 2, 3; a new list starts at 1; "3.2" under "3") rejects numbers inside text. An
   un-numbered heading (商铺进场撤场管理规定 before its 一.) is a path element, one level below the
   document.
4. Clauses. Every node with its own text becomes a clause (heading-only nodes with children live on
   in their children's `headings`); long texts are split into sentence groups sharing the path.
   Ids hash (title, path, text); near-identical clauses in different documents are linked in
   `also_in`.

`python -m retrieval.corpus [folder]` prints what was parsed, for eyeballing.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from retrieval.model import PATH_SEP, Clause, Document

__all__ = ["all_clauses", "clean_title", "find_clauses", "load_corpus", "parse_text"]

# --- vocabulary -----------------------------------------------------------------------------------

# Download-site noise printed inside the text.
WATERMARKS = ("中国最庞大的下载资料库下载",)
# Lines that start a download site's footer (lists of other documents follow).
FOOTER_MARKERS = frozenset(
    {"相关文档", "最新文档", "相关推荐", "猜你喜欢", "热门文档", "推荐文档", "相关搜索"}
)
# A paragraph that is just one of these words heads a table of contents.
TOC_WORDS = frozenset({"目录", "目次", "内容", "正文", "contents"})
# Words that head an un-numbered section even without a document-type noun.
SECTION_WORDS = frozenset({"前言", "引言", "序言", "导言", "附则", "附录"})
# Regulation titles end in one of these nouns (after bracketed decorations).
_DOC_NOUN = re.compile(
    r"(守则|规定|规范|制度|办法|细则|准则|条例|章程|意见|范文|流程|标准|手册|规程|须知|方案|通知|决定|规则|指引|指南"
    r"|纲要|公约|规划|管理)"
)
# Signature lines end in an organisation.
_ORG_END = re.compile(r"(公司|集团|项目部|部|科|处|室|局|厅|委员会|协会|办公室|中心|小组|队|所|院|厂|站)$")
_DATE_DIGIT = r"[\d〇○O零一二三四五六七八九十]"
_DATE = re.compile(rf"{_DATE_DIGIT}{{2,4}}年{_DATE_DIGIT}{{1,3}}月{_DATE_DIGIT}{{1,3}}日")
# Bracketed title decorations that are download-site noise, not part of the name.
_TITLE_NOISE = re.compile(
    r"^\s*\d{1,3}\s*$|doc|docx|pdf|ppt|xls|wps|txt|word|\d+\s*页|完整版|精品|精选|最新|免费|下载|可编辑|高清|整理版|推荐|优秀|经典|全套",
    re.IGNORECASE,
)
# Sentences, not titles, start like this ("本规定…", "具体办法另行规定").
_SENTENCE_START = re.compile(r"(本|按|由|经|凡|如|依|根据|具体|其他|其它|另行|以上|以下|上述)")
_BRACKET_GROUP = re.compile(r"\s*[(（\[【]([^()（）\[\]【】]{0,20})[)）\]】]")

_CJK = "\u4e00-\u9fff"
_SENTENCE_END = "。！？!?；;"
# A paragraph that ends in one of these is complete (no page-break join after it).
_TERMINAL = set(_SENTENCE_END + "：:…")
# Label boundaries: a label may start after whitespace or after one of these.
_BOUNDARY = re.compile(r"[\s。；;：:！？!?]+")
_INNER_PUNCT = re.compile(r"[。，,；;！？!?]")
_HEADING_MAX = 30
CLAUSE_MAX = 400  # longer clause texts are split into sentence groups of at most this size

# --- labels ---------------------------------------------------------------------------------------

_CN_NUM = "一二三四五六七八九十"
_LABEL = re.compile(
    r"(?P<code>【[A-Za-z]{1,5}\d{1,3}(?:[-_.]\d{1,3})*】)"
    r"|(?P<note>注(?P<note_n>\d{0,2})[:：])"
    r"|(?P<zh>第(?P<zh_n>[一二三四五六七八九十百零〇两\d]{1,5})(?P<zh_k>[章节条]))"
    rf"|(?P<pcn>[(（](?P<pcn_n>[{_CN_NUM}]{{1,3}})[)）])"
    r"|(?P<par>[(（](?P<par_n>\d{1,2})[)）])"
    r"|(?P<c1>[①-⑳])"
    r"|(?P<c2>[⑴-⒇])"
    r"|(?P<dec>(?P<dec_n>\d{1,2}(?:[.．]\d{1,2}){1,3})(?![\d.．])(?P<dec_p>、)?)"
    r"|(?P<arp>(?P<arp_n>\d{1,2})[)）])"
    rf"|(?P<ar>(?P<ar_n>\d{{1,2}})(?P<ar_p>[、.．](?!\d)|\s?(?=[A-Za-z{_CJK}《“])))"
    rf"|(?P<cn>(?P<cn_n>[{_CN_NUM}]{{1,3}})(?P<cn_p>[、.．]|(?=[{_CJK}])))"
    r"|(?P<la>[a-z][)）])"
    r"|(?P<LA>[A-Z][.．](?![A-Za-z\d]))"
    r"|(?P<bul>[●■◆◇•▪►★☆])"
)
_KINDS = ("code", "note", "zh", "pcn", "par", "c1", "c2", "dec", "arp", "ar", "cn", "la", "LA", "bul")
# A decimal glued to the preceding word ("服务改进计划3.20 服务水平协议"): accepted only as the
# exact next sibling of the open decimal.
_GLUED_DECIMAL = re.compile(rf"(?<=[{_CJK}])\d{{1,2}}(?:[.．]\d{{1,2}}){{1,3}}(?![\d.．])")
# Chars that make a bare number a quantity, not a label ("20日", "3个").
_UNITS = set("年月日号时分秒个名人元角倍次天周岁页期届级度米克吨斤台套件份张位层楼栋户万千百亿%％‰")
# Chars that make a bare 一 the start of a word, not a label ("一张图", "一般").
_MEASURE = set(
    "个些般直定律起次项年月日周天名人张票份期级等种样致切共同旦方倍成半点部层批类季代星线流元角分秒时"
    "条章节款号位台件套辆体把组对群支只头块片段环"
)
_PAGE_NO = re.compile(r"[(（]\d{1,3}[)）](?=\s|$)")
_TOC_MARK = re.compile(rf"(?:^|(?<=\s))目\s?[录次](?=\s|$|第|[{_CN_NUM}\d])")


def _cn_int(numeral: str) -> int:
    """Chinese or Arabic numeral → int: 十一 → 11, 二十 → 20, 一百零五 → 105."""
    if numeral.isdigit():
        return int(numeral)
    digits = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    total, num = 0, 0
    for ch in numeral:
        if ch in digits:
            num = digits[ch]
        elif ch == "十":
            total, num = total + (num or 1) * 10, 0
        elif ch == "百":
            total, num = total + (num or 1) * 100, 0
    return total + num


@dataclass(frozen=True)
class _Label:
    """A numbering label found in the text (not yet accepted)."""

    start: int
    end: int  # where the clause text starts
    label: str  # as printed, e.g. "十、", "(一)", "3.1", "注"
    style: tuple[str, str]  # (family, variant): ("cn", "、"), ("dec", "2"), ("zh", "条")
    value: tuple[int, ...] | None  # None for bullets, codes, unnumbered notes
    glued: bool = False

    @property
    def bare(self) -> bool:
        """Printed without punctuation ("十一积极...", "1 范围"): weaker evidence, stricter checks."""
        return self.style[0] in ("ar", "cn") and self.style[1] == ""


def _match_label(text: str, pos: int) -> _Label | None:
    m = _LABEL.match(text, pos)
    if not m:
        return None
    # The alternative that matched (lastgroup may name an inner group such as "dec_p").
    kind = next(name for name in _KINDS if m.group(name) is not None)
    printed = m.group(0)
    end = m.end()
    style: tuple[str, str]
    value: tuple[int, ...] | None
    if kind == "code":
        style, value, label = ("code", ""), None, printed
        end = _skip(text, end, " :：")
    elif kind == "note":
        n = m.group("note_n")
        style, value, label = ("note", ""), ((int(n),) if n else None), "注" + n
    elif kind == "zh":
        style, value, label = ("zh", m.group("zh_k")), (_cn_int(m.group("zh_n")),), printed
    elif kind == "pcn":
        style, value, label = ("pcn", ""), (_cn_int(m.group("pcn_n")),), printed
    elif kind == "par":
        style, value, label = ("par", ""), (int(m.group("par_n")),), printed
    elif kind == "c1":
        style, value, label = ("c1", ""), (ord(printed) - ord("①") + 1,), printed
    elif kind == "c2":
        style, value, label = ("c2", ""), (ord(printed) - ord("⑴") + 1,), printed
    elif kind == "dec":
        parts = tuple(int(p) for p in re.split(r"[.．]", m.group("dec_n")))
        if parts[-1] == 0:  # "2.0" is a version, not a clause
            return None
        style, value, label = ("dec", str(len(parts))), parts, printed
    elif kind == "arp":
        style, value, label = ("arp", ""), (int(m.group("arp_n")),), printed
    elif kind == "ar":
        digits, punct = m.group("ar_n"), m.group("ar_p").strip()
        if digits.startswith("0"):
            return None
        if not punct:
            nxt = text[end:end + 1]
            if not nxt or nxt in _UNITS:
                return None
        style, value, label = ("ar", punct.replace("．", ".")), (int(digits),), digits + punct
    elif kind == "cn":
        punct = m.group("cn_p")
        numeral = m.group("cn_n")
        style, value, label = ("cn", punct.replace("．", ".")), (_cn_int(numeral),), numeral + punct
    elif kind == "la":
        style, value, label = ("la", ""), (ord(printed[0]) - ord("a") + 1,), printed
    elif kind == "LA":
        style, value, label = ("LA", ""), (ord(printed[0]) - ord("A") + 1,), printed
    else:
        style, value, label = ("bul", printed), None, printed
    end = _skip(text, end, " ")
    if end >= len(text):  # a label needs some text after it
        return None
    return _Label(pos, end, label, style, value)


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _labels_in(text: str, start: int = 0) -> list[_Label]:
    """Candidate labels at plausible boundaries, in order (acceptance is decided by the parser)."""
    found: dict[int, _Label] = {}
    positions = [0] + [m.end() for m in _BOUNDARY.finditer(text)]
    for pos in positions:
        if pos >= start and pos < len(text):
            lab = _match_label(text, pos)
            if lab is not None:
                found[pos] = lab
    for m in _GLUED_DECIMAL.finditer(text, start):
        if m.start() not in found:
            lab = _match_label(text, m.start())
            if lab is not None and lab.style[0] == "dec":
                found[m.start()] = replace(lab, glued=True)
    return [found[p] for p in sorted(found)]


# --- text helpers ---------------------------------------------------------------------------------


def _squash(text: str) -> str:
    """Collapse whitespace (incl. full-width spaces) and drop ----- decoration rules."""
    text = re.sub(r"[-—=_]{4,}", " ", text)
    return re.sub(r"\s+", " ", text.replace("\u3000", " ")).strip()


_NON_WORD = re.compile(r"[\W_]+")
_BRACKETED = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]")


def _core(text: str) -> str:
    """Letters, digits and CJK only, bracketed parts removed: for comparing titles."""
    return _NON_WORD.sub("", _BRACKETED.sub("", text))


def _bigrams(text: str) -> set[str]:
    chars = _NON_WORD.sub("", text)
    return {chars[i:i + 2] for i in range(len(chars) - 1)} if len(chars) > 1 else {chars} if chars else set()


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _is_heading(text: str) -> bool:
    """A short title-like text: no sentence punctuation inside (a trailing colon is fine)."""
    body = text.rstrip(":：")
    return 0 < len(body) <= _HEADING_MAX and not _INNER_PUNCT.search(body)


def _heading_of(text: str) -> str:
    """The heading a clause gives its children: its first phrase ("人员能力 目的:…" → 人员能力).

    The phrase ends at punctuation or at a space before Chinese text ("企业流程enterprise process 实现…"
    keeps its English gloss); a phrase longer than 20 chars is a sentence, not a heading.
    """
    m = re.match(rf"(.+?)(?:[:：,，。;；!?！？]|\s+(?=[{_CJK}《“(（])|$)", text.strip())
    phrase = m.group(1).strip() if m else ""
    return phrase if 2 <= len(phrase) <= 20 else ""


def _titled(text: str) -> str:
    """The heading a clause's text opens with before its body ("人员能力 目的:…" → 人员能力), or ""."""
    m = re.match(rf"(.+?)(?:[:：]|\s+(?=[{_CJK}《“(（]))", text.strip())
    phrase = m.group(1).strip() if m else ""
    return phrase if 2 <= len(phrase) <= 20 and not _INNER_PUNCT.search(phrase) else ""


# --- titles ---------------------------------------------------------------------------------------


def clean_title(line: str) -> str:
    """A title line without 《》 and download-site decorations: 《X》[1] → X, (完整版)X(运维) → X(运维)."""
    title = _squash(line).replace("《", "").replace("》", "")
    # Letter-spaced titles ("客 服 管 理 规 范") lose their spaces; ASCII words keep theirs.
    title = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", title)
    return _BRACKET_GROUP.sub(lambda m: "" if _TITLE_NOISE.search(m.group(1)) else m.group(0), title).strip()


def _title_of(line: str) -> str | None:
    """The cleaned title when `line` is a document title line, else None."""
    if len(line) > 60 or _INNER_PUNCT.search(line) or re.search(r"[:：]", line):
        return None
    title = clean_title(line)
    bare = re.sub(r"([(（\[【][^()（）\[\]【】]*[)）\]】]\s*)+$", "", title)  # "(运维)" may follow the noun
    if not 4 <= len(bare) <= 40 or not _DOC_NOUN.search(bare[-2:]):
        return None
    if _labels_in(line) or _TOC_MARK.search(line) or _core(title).lower() in TOC_WORDS:
        return None  # "目录 一、总则 二、细则" ends in a noun too
    if _SENTENCE_START.match(title):
        return None  # "具体办法另行规定": a sentence without its full stop
    return title


def _echo_len(text: str, title: str) -> int:
    """How many leading chars of a paragraph just repeat the document title (0 if none).

    Scraped bodies start by printing the title again, often with decorations: "客 服 管 理 规 范",
    "北京泰华集团技术质量创新委员会工作准则 (试行版)", "项目管理流程及规范 2016年11月09日".
    """
    target = _core(title)
    if len(target) < 2:
        return 0
    target_bigrams = _bigrams(target)
    tokens = list(re.finditer(r"\S+", text))
    best, best_end = 0.0, 0
    for k in range(1, min(len(tokens), 12) + 1):
        joined = _core("".join(t.group(0) for t in tokens[:k]))
        if len(joined) > len(target) + 20:
            break
        if not joined:
            continue
        if target in joined:
            score = 1.0
        elif joined in target and len(joined) >= max(4, 0.6 * len(target)):
            score = 0.9
        else:
            score = _dice(_bigrams(joined), target_bigrams)
        if score > best:
            best, best_end = score, tokens[k - 1].end()
    if best < 0.6:
        return 0
    # Decorations right after the echo belong to it: "(试行版)", a date, a document code.
    decoration = re.compile(
        rf"[(（\[【][^()（）\[\]【】]{{1,20}}[)）\]】]|{_DATE.pattern}(?:发布|施行|实施|印发)?|[A-Z]{{2,}}[A-Z0-9/.\-]*\d{{3,}}"
    )
    while True:
        m = re.compile(r"\s*(\S+)").match(text, best_end)
        if not m or not decoration.fullmatch(m.group(1)):
            break
        best_end = m.end()
    return best_end


# --- lines → draft documents ----------------------------------------------------------------------


@dataclass
class _Draft:
    title: str
    lines: list[str] = field(default_factory=list)


def _is_signature(line: str) -> bool:
    """A stray sign-off line: '。首建集团华骏项目部', '首建集团二分公司武装保卫科', a lone date."""
    if len(line) > 30 or _match_label(line, 0) is not None:
        return False
    body = line.lstrip("。，,、．. ")
    if _INNER_PUNCT.search(body):
        return False
    return body != line or bool(_ORG_END.search(body)) or bool(_DATE.fullmatch(body))


def _split_documents(raw: str, fallback_title: str) -> list[_Draft]:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    for mark in WATERMARKS:
        text = text.replace(mark, " ")
    lines = [s for s in (_squash(line) for line in text.split("\n")) if s]
    titles = [_title_of(line) for line in lines]
    # Sign-off lines ("XX物业公司", "2021年3月1日") stand just before a title, a footer or the end.
    signed = [False] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        ends_here = i + 1 == len(lines) or titles[i + 1] is not None or lines[i + 1] in FOOTER_MARKERS
        signed[i] = titles[i] is None and (ends_here or signed[i + 1]) and _is_signature(lines[i])
    drafts: list[_Draft] = []
    current: _Draft | None = None
    void = False  # inside a download site's footer
    for i, line in enumerate(lines):
        if line in FOOTER_MARKERS:
            current, void = None, True
            continue
        title = titles[i]
        if title is not None:
            if current is not None and not current.lines:
                # Repeated title, or the title echoed with decorations ("英国标准 IT服务管理 规范").
                if _core(current.title) in _core(line):
                    continue
            elif current is not None and _core(title) == _core(current.title):
                continue  # a running page header
            current, void = _Draft(title), False
            drafts.append(current)
            continue
        if void:
            continue
        if signed[i]:
            continue
        if current is None:
            # Text before any title: the first line names the document when it looks like a heading.
            if _is_heading(line) and _match_label(line, 0) is None:
                current = _Draft(clean_title(line))
                drafts.append(current)
                continue
            current = _Draft(fallback_title)
            drafts.append(current)
        current.lines.append(line)
    # A title with no body of its own heads a collection (更夫管理守则): it is not a document.
    return [d for d in drafts if d.lines]


# --- per document: echo, TOC, page-break joins ----------------------------------------------------


def _label_key(lab: _Label) -> tuple[str, tuple[int, ...] | None]:
    """Style family and value, ignoring punctuation: the TOC's "1. 文档目的" restarts as "1.文档目的"."""
    return (lab.style[0] if lab.style[0] != "zh" else "zh" + lab.style[1], lab.value)


def _is_sentence(text: str) -> bool:
    return any(ch in text for ch in _SENTENCE_END)


def _drop_toc(paras: list[str]) -> list[str]:
    """Drop table-of-contents blocks: page-numbered heading runs and 目录 blocks."""
    out: list[str] = []
    in_toc = False
    restart: tuple[str, tuple[int, ...] | None] | None = None
    for para in paras:
        first = _match_label(para, 0)
        if in_toc:
            if first is not None and restart is not None and _label_key(first) == restart:
                in_toc = False  # the body starts: the TOC's first heading again
            elif not _is_sentence(para):
                if restart is None and first is not None:
                    restart = _label_key(first)
                continue
            else:
                in_toc = False
        if "。" not in para and len(_PAGE_NO.findall(para)) >= 3:
            continue  # headings with page numbers: "一前言 (3) 1.1 目的 (3) ..."
        if _core(para).lower() in TOC_WORDS:
            in_toc, restart = True, None
            continue
        mark = _TOC_MARK.search(para)
        if mark is None:
            out.append(para)
            continue
        before, after = para[: mark.start()].strip(), para[mark.end():].strip()
        # A short caption before 目录 ("客户服务部 规范化管理工具箱 目录") belongs to the TOC.
        if before and not _is_heading(before):
            out.append(before)
        labels = _labels_in(after)
        restart = _label_key(labels[0]) if labels else None
        cut = next((lab.start for lab in labels[1:] if _label_key(lab) == restart), None)
        if cut is not None:
            out.append(after[cut:])  # the body follows the TOC in the same paragraph
        else:
            in_toc = True
    return out


def _continues(prev: str, para: str) -> bool:
    """Was `para` split from `prev` by a page break in mid-sentence?"""
    if not prev or prev[-1] in _TERMINAL or _is_heading(prev):
        return False
    if prev[-1] in "”」』\"'" and len(prev) > 1 and prev[-2] in _SENTENCE_END:
        return False
    return _match_label(para, 0) is None and _prefix_section(para) is None


def _join(prev: str, para: str) -> str:
    tail = prev.rsplit(" ", 1)[-1]
    # "…4、商品上架标准" + "附件:…" is a heading at a page end, not a broken word: keep a space.
    heading_tail = len(tail) <= 15 and _is_heading(tail) and _match_label(tail, 0) is not None
    words = prev[-1].isascii() and prev[-1].isalnum() and para[0].isascii() and para[0].isalnum()
    glue = " " if heading_tail or words else ""
    return prev + glue + para


_SIGN_OFF = re.compile(
    rf"\s+(?:\S{{0,30}}(?:公司|集团|项目部|委员会|协会|办公室|中心))?\s*{_DATE.pattern}"
    r"(?:\s*(?:拟制|审核|批准|签发|编制|制定)[:：]?)*\s*$"
)


def _paragraphs(draft: _Draft) -> list[str]:
    paras = list(draft.lines)
    # The body's first paragraph often echoes the title.
    echo = _echo_len(paras[0], draft.title)
    if echo:
        rest = paras[0][echo:].strip()
        paras = ([rest] if rest else []) + paras[1:]
    paras = _drop_toc(paras)
    joined: list[str] = []
    for para in paras:
        if joined and _continues(joined[-1], para):
            joined[-1] = _join(joined[-1], para)
        else:
            joined.append(para)
    # A sign-off at the very end ("xx有限公司 二O一四年十月二十八日 拟制:审核:批准:") is not a rule.
    if joined:
        joined[-1] = _SIGN_OFF.sub("", joined[-1]).strip()
        if not joined[-1]:
            joined.pop()
    return joined


# --- structure ------------------------------------------------------------------------------------


@dataclass
class _Node:
    style: tuple[str, str]
    value: tuple[int, ...] | None
    label: str
    parts: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    tail: str = ""  # text after a list, moved back from its last item

    @property
    def text(self) -> str:
        return _squash("".join(self.parts))


_ROOT = ("root", "")
_SECTION = ("sec", "")


def _prefix_section(para: str) -> tuple[str, int] | None:
    """An un-numbered heading opening a paragraph: "商铺进场撤场管理规定 一.进场…", "前言 《…》…"."""
    m = re.match(r"(\S+)\s+", para)
    if not m:
        return None
    head = m.group(1)
    if len(head) > _HEADING_MAX or re.search(r"[。，,；;！？!?:：]", head) or _match_label(head, 0):
        return None
    if head in SECTION_WORDS:
        return head, m.end()
    if len(head) >= 4 and _DOC_NOUN.search(head[-2:]) and _match_label(para, m.end()) is not None:
        return head, m.end()
    return None


def _standalone_section(para: str) -> tuple[str, str] | None:
    """A short un-numbered heading line: "招商运营各岗位职责", "运营部日常工作管理规定每日工作流程:"."""
    if not _is_heading(para) or _match_label(para, 0) is not None or " " in para.strip():
        return None
    body = para.rstrip(":：")
    # "…管理规定每日工作流程:" names the section up to its document-type nouns; the rest is its text.
    m = re.search(rf"{_DOC_NOUN.pattern}+", body)
    while m is not None:
        if m.end() >= 4 and len(body) - m.end() >= 2:
            return body[: m.end()], para[m.end():]
        m = re.compile(rf"{_DOC_NOUN.pattern}+").search(body, m.end())
    return body, ""


def _follows(prev: _Node, lab: _Label) -> bool:
    """Is `lab` the next sibling after `prev` (same style)?"""
    if prev.value is None or lab.value is None:
        return True  # bullets, codes, unnumbered notes
    if lab.style[0] == "dec":
        p, c = prev.value, lab.value
        if c[:-1] == p[:-1]:
            if lab.glued:
                return c[-1] == p[-1] + 1
            return p[-1] <= c[-1] <= p[-1] + 2  # duplicates happen ("3.2 … 3.2 …")
        return not lab.glued and c[-1] == 1 and c[:-2] == p[:-2] and c[-2] == p[-2] + 1
    step = lab.value[0] - prev.value[0]
    if lab.bare or (prev.style[0] in ("ar", "cn") and prev.style[1] == "") or lab.style[0] == "note":
        return step == 1
    return 1 <= step <= 3  # a printed label may skip one or two (excerpts, typos)


# Styles printed with unambiguous punctuation (or 第…条): enough evidence for a mid-list start.
_STRONG = {"zh", "pcn", "par", "cn", "ar"}


def _starts(parent: _Node, lab: _Label, text: str, last_article: int) -> bool:
    """May `lab` open a new list below `parent`?"""
    if lab.glued:
        return False
    if lab.value is None:
        return True
    if lab.style[0] == "dec":
        c = lab.value
        numbered = parent.value is not None and parent.style[0] in ("ar", "cn", "dec", "zh", "par", "pcn")
        if numbered and parent.value is not None and c[:-1] == parent.value:
            return c[-1] <= 2
        # Without a numbered parent only "1.1" opens a decimal list ("升级到 2.1" is a version).
        return not numbered and set(c) == {1} and text[lab.end:lab.end + 1] not in _UNITS | {"版"}
    if lab.style == ("zh", "条") and lab.value[0] == last_article + 1:
        return True  # articles are numbered through the whole document
    if lab.bare:
        # "一前言 1.1目的", "1定期服务内容 提供…": a bare numeral starts a list only before a short
        # heading word that ends at a space ("一组活动。" and "一张图" are words).
        after = text[lab.end:]
        if lab.value[0] != 1 or (lab.style[0] == "cn" and after[:1] in _MEASURE):
            return False
        word = re.split(r"\s", after, maxsplit=1)[0]
        return 0 < len(word) <= 20 and not re.search(r"[。，,；;：:！？!?]", word)
    if lab.value[0] == 1:
        return True
    # An excerpt may start in mid-list: the document's first label, printed with its punctuation at
    # a paragraph start, may have any number ("三、…").
    return lab.start == 0 and parent.style == _ROOT and not parent.children and lab.style[0] in _STRONG



def _loose(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """A bare numeral continues a punctuated list of the same script ("十、" then "十一积极...")."""
    return a[0] == b[0] and a[0] in ("ar", "cn") and (a[1] == "" or b[1] == "")


def _place(stack: list[_Node], lab: _Label, text: str, last_article: int) -> int | None:
    """Index of the stack node the label's clause becomes a child of, or None when it is not a label."""
    for level in range(len(stack) - 1, 0, -1):
        if stack[level].style == lab.style:
            return level - 1 if _follows(stack[level], lab) else None
    if lab.glued:
        return None
    for level in range(len(stack) - 1, 0, -1):
        if _loose(stack[level].style, lab.style) and _follows(stack[level], lab):
            return level - 1
    if lab.style[0] == "note":
        # A note belongs to the nearest clause that is a titled unit ("4.3 人员能力 …"), else the document.
        for level in range(len(stack) - 1, 0, -1):
            if stack[level].style == _SECTION or _titled(stack[level].text):
                return level
        return 0
    return len(stack) - 1 if _starts(stack[-1], lab, text, last_article) else None


def _parse_structure(paras: list[str]) -> _Node:
    root = _Node(_ROOT, None, "")
    stack = [root]
    last_article = 0
    for i, para in enumerate(paras):
        start = 0
        section = _prefix_section(para)
        standalone = _standalone_section(para) if i + 1 < len(paras) else None
        # Inside an open numbered list a heading-like line is only a section when a fresh list follows;
        # otherwise it is text of the open clause (a false section would break the numbering).
        if (section or standalone) and len(stack) > 1 and stack[-1].style != _SECTION:
            follows = para[section[1]:] if section else paras[i + 1]
            first = _match_label(follows, 0)
            if not (first and (first.value is None or first.value[-1] == 1)):
                section = standalone = None
        if section is not None or standalone is not None:
            if section is not None:
                label, start = section
                own = ""
            else:
                assert standalone is not None
                label, own = standalone
                start = len(para)
            node = _Node(_SECTION, None, label, [own])
            root.children.append(node)
            stack = [root, node]
        else:
            stack[-1].parts.append(" ")
        cursor = start
        for lab in _labels_in(para, start):
            if lab.start < cursor:
                continue
            # Flush first: placing a note looks at the open clauses' text.
            stack[-1].parts.append(para[cursor:lab.start])
            cursor = lab.start
            level = _place(stack, lab, para, last_article)
            if level is None:
                continue
            node = _Node(lab.style, lab.value, lab.label)
            stack = stack[: level + 1]
            stack[-1].children.append(node)
            stack.append(node)
            if lab.style == ("zh", "条") and lab.value:
                last_article = lab.value[0]
            cursor = lab.end
        stack[-1].parts.append(para[cursor:])
    _move_list_tails(root)
    return root


_ITEM_FAMILIES = {"ar", "arp", "par", "pcn", "c1", "c2", "la", "LA", "bul", "cn"}


def _move_list_tails(node: _Node) -> None:
    """Text after a ;-separated list belongs to the list's parent, not to its last item.

    "服务管理计划应定义: a) …; … f) …资源。 服务管理计划应包括…" — the last sentence is 4.2's.
    """
    for child in node.children:
        _move_list_tails(child)
    items = node.children
    if len(items) < 3 or items[-1].children or items[-1].style[0] not in _ITEM_FAMILIES:
        return
    if not all(c.text.endswith((";", "；")) for c in items[:-1] if c.style == items[-1].style):
        return
    last = items[-1].text
    m = re.search(r"。\s*(?=\S)", last)
    if m and len(last) - m.end() >= 10:
        items[-1].parts = [last[: m.end()]]
        node.tail = last[m.end():].strip()


# --- nodes → clauses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    path: tuple[str, ...]
    text: str
    headings: tuple[str, ...]


def _split_long(text: str, limit: int = CLAUSE_MAX) -> list[str]:
    """Sentence groups of at most `limit` chars (a single longer sentence is cut at a space)."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in re.findall(rf".+?(?:[{_SENTENCE_END}]\s*|$)", text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 3 else limit
            pieces.append(sentence[:cut])
            sentence = sentence[cut:]
        pieces.append(sentence)
    groups: list[str] = []
    for piece in pieces:
        if groups and len(groups[-1]) + len(piece) <= limit:
            groups[-1] += piece
        else:
            groups.append(piece)
    return [g.strip() for g in groups if g.strip()]


def _pieces(node: _Node, path: tuple[str, ...], headings: tuple[str, ...], out: list[_Piece]) -> None:
    text = node.text
    own_heading = node.label if node.style == _SECTION else _heading_of(text)
    if text and not (node.children and _is_heading(text)):
        # A clause's own heading is listed when it heads a body: "4.1 建立被管理服务的边界 目的:…".
        own = node.label if node.style == _SECTION else _titled(text) if node.style != _ROOT else ""
        shown = headings + ((own,) if own else ())
        for chunk in _split_long(text):
            out.append(_Piece(path, chunk, shown))
    inner = headings + ((own_heading,) if own_heading and node.style != _ROOT else ())
    for child in node.children:
        _pieces(child, (*path, child.label), inner, out)
    if node.tail:
        for chunk in _split_long(node.tail):
            out.append(_Piece(path, chunk, inner))


def _parse_drafts(raw: str, fallback_title: str) -> list[tuple[str, list[_Piece]]]:
    out: list[tuple[str, list[_Piece]]] = []
    for draft in _split_documents(raw, fallback_title):
        pieces: list[_Piece] = []
        _pieces(_parse_structure(_paragraphs(draft)), (), (), pieces)
        out.append((draft.title, pieces))
    return out


# --- ids, duplicates, documents -------------------------------------------------------------------


def _clause_id(title: str, path: tuple[str, ...], text: str) -> str:
    digest = hashlib.sha1(f"{title}\x1f{PATH_SEP.join(path)}\x1f{text}".encode()).hexdigest()
    return digest[:8]


def _finish(parsed: Iterable[tuple[str, list[_Piece]]]) -> list[Document]:
    """Merge same-title documents, drop exact duplicate clauses, assign ids, link near-duplicates."""
    grouped: dict[str, list[_Piece]] = {}
    for title, pieces in parsed:
        grouped.setdefault(title, []).extend(pieces)
    used: set[str] = set()
    docs: list[tuple[str, list[Clause]]] = []
    for title, pieces in grouped.items():
        seen: set[tuple[tuple[str, ...], str]] = set()
        clauses: list[Clause] = []
        for piece in pieces:
            if (piece.path, piece.text) in seen:
                continue
            seen.add((piece.path, piece.text))
            base = cid = _clause_id(title, piece.path, piece.text)
            n = 2
            while cid in used:  # same hash prefix: a stable suffix in input order
                cid, n = f"{base}-{n}", n + 1
            used.add(cid)
            clauses.append(Clause(cid, title, piece.path, piece.text, piece.headings))
        docs.append((title, clauses))
    flat = [c for _, cs in docs for c in cs]
    links = _near_duplicates(flat)
    return [
        Document(title, tuple(replace(c, also_in=tuple(links[c.id])) if c.id in links else c for c in cs))
        for title, cs in docs
    ]


SAME_LABEL_SIMILARITY = 0.6  # same last label and this bigram similarity: the same rule
ANY_LABEL_SIMILARITY = 0.85  # this similar regardless of label: the same rule
_MIN_LINK_CHARS = 8


def _near_duplicates(clauses: Sequence[Clause]) -> dict[str, list[str]]:
    """Ids of near-identical clauses in other documents, per clause id (character-bigram Dice).

    Candidates come from a prefix filter (rarest bigrams first): two sets with Dice >= s share at
    least s*|x|/(2-s) bigrams, so they share one of the |x| - that + 1 rarest of each.
    """
    grams = [_bigrams(c.text) if len(c.text) >= _MIN_LINK_CHARS else set() for c in clauses]
    labels = [_fold(c.path[-1]) if c.path else "" for c in clauses]
    freq: dict[str, int] = defaultdict(int)
    for g in grams:
        for gram in g:
            freq[gram] += 1
    s = SAME_LABEL_SIMILARITY
    index: dict[str, list[int]] = defaultdict(list)
    prefixes: list[list[str]] = []
    for i, g in enumerate(grams):
        need = math.ceil(s * len(g) / (2 - s))
        prefix = sorted(g, key=lambda gram: (freq[gram], gram))[: len(g) - need + 1] if g else []
        prefixes.append(prefix)
        for gram in prefix:
            index[gram].append(i)
    links: dict[str, list[str]] = defaultdict(list)
    for i, prefix in enumerate(prefixes):
        candidates = {j for gram in prefix for j in index[gram] if j > i and clauses[j].doc != clauses[i].doc}
        for j in sorted(candidates):
            sim = _dice(grams[i], grams[j])
            if sim >= ANY_LABEL_SIMILARITY or (labels[i] == labels[j] and sim >= SAME_LABEL_SIMILARITY):
                links[clauses[i].id].append(clauses[j].id)
                links[clauses[j].id].append(clauses[i].id)
    return links


# --- public API -----------------------------------------------------------------------------------


def parse_text(raw: str) -> list[Document]:
    """Documents (with their clauses) in one raw regulations text."""
    return _finish(_parse_drafts(raw, "未命名文档"))


def load_corpus(folder: Path) -> list[Document]:
    """Documents from every *.txt in `folder` (sorted by name, UTF-8), duplicates linked across all."""
    parsed: list[tuple[str, list[_Piece]]] = []
    for path in sorted(Path(folder).glob("*.txt")):
        parsed.extend(_parse_drafts(path.read_bytes().decode("utf-8-sig"), path.stem))
    return _finish(parsed)


def all_clauses(docs: Iterable[Document]) -> list[Clause]:
    return [c for d in docs for c in d.clauses]


def _fold(text: str) -> str:
    """Width- and spacing-insensitive form for matching citations."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_CITE_SEPS = re.compile(r"[›>»→|/]")


def find_clauses(docs: Sequence[Document], ref: str) -> list[Clause]:
    """Clauses for an id, a citation (《更夫守则》十、, 更夫守则 十), or a citation prefix (《更夫守则》)."""
    ref = ref.strip()
    if not ref:
        return []
    clauses = all_clauses(docs)
    by_id = [c for c in clauses if c.id == ref.lower()]
    if by_id:
        return by_id
    folded = _fold(ref)
    titles = {_fold(d.title): d for d in docs}
    if folded.startswith("《") and "》" in folded:
        doc_part, rest = folded[1:].split("》", 1)
        chosen = [titles[doc_part]] if doc_part in titles else []
        if not chosen and not rest:
            chosen = [d for t, d in titles.items() if t.startswith(doc_part)]
    else:
        folded = folded.replace("《", "").replace("》", "")
        heads = sorted((t for t in titles if folded.startswith(t)), key=len, reverse=True)
        if heads:
            chosen, rest = [titles[heads[0]]], folded[len(heads[0]):]
        else:
            chosen, rest = [d for t, d in titles.items() if t.startswith(folded)], ""
    rest = _CITE_SEPS.sub("", rest)
    return [c for d in chosen for c in d.clauses if _path_matches(rest, [_fold(p) for p in c.path])]


def _path_matches(rest: str, labels: list[str]) -> bool:
    """Does `rest` spell the first labels of the path (a label's trailing 、. may be left out)?"""
    if not rest:
        return True
    if not labels:
        return False
    head, tail = labels[0], labels[1:]
    for form in dict.fromkeys((head, head.rstrip("、.:"))):
        if form and rest.startswith(form) and _path_matches(rest[len(form):], tail):
            return True
    # An un-numbered section name (not a numbering label) may be left out of a citation.
    numbered = (lab := _match_label(head + "文", 0)) is not None and lab.label == head
    return not numbered and _path_matches(rest, tail)


# --- debug entry point ----------------------------------------------------------------------------


def _main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "seeds" / "regulations"
    docs = load_corpus(folder)
    for doc in docs:
        print(f"== 《{doc.title}》 {len(doc.clauses)} clauses")
        for c in doc.clauses:
            link = f"  ⇄ {','.join(c.also_in)}" if c.also_in else ""
            print(f"  [{c.id}] {c.citation}  {c.text[:40]}{link}")
    print(f"{len(docs)} documents, {sum(len(d.clauses) for d in docs)} clauses")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
