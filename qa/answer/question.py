"""Question analysis: what kind of answer is asked for, for which years, about which words.

This is the classic "expected answer type" step of extractive QA, built from generic
Chinese question words only; nothing here knows any particular document or question.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from qa.text.normalize import normalize

AnswerKind = str  # "number" | "list" | "who" | "when" | "docnum" | "definition" | "text"

_CN_DIGITS = {
    "〇": "0",
    "零": "0",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}

# Question words, particles and fillers: they say what is asked, not what it is about.
# Longest first, so "到底" is taken whole before "到" can split it.
_STOP_WORDS = (
    "请问|请|问一下|一下|是什么|什么样|什么|啥子|啥|哪些|哪个|哪几个|哪几|哪一[项个类种条]?|哪类|哪种|哪份|哪部|哪条|哪|多少[项个家类种条件名次]?|"
    "几[项个家大类种条件名次]?|属于|归于|归在|归属|算是|算|到|搞|弄|整|达到|实现|吗|呢|吧|啊|呀|嘛|哈|哦|呗|咯|么|是不是|有没有|是否|能不能|可不可以|"
    "怎么样|怎么|怎样|咋|如何|为什么|为何|谁|我想|想知道|知道|告诉我|告诉|我们|咱们|咱|俺|我|你们|你|他们|它|一共|总共|到底|究竟|具体|分别|大概|大约|打算|"
    "这个|那个|这些|那些|这份|这篇|这|那|的|了|是|有|都|还|也|就|又|可以|给|让|和|与|及|或|跟|些|要求|需要|想要|(?<![纲重需主])要(?![求素点])|"
    "这项|该项|此项|包括|包含|涵盖|提出|主要|内容|情况|方面的?|问题|介绍|说说|讲讲|说明|解释|列举|列出|简述|程度|样子|来着|说白了|简单来说|通俗地?说|一句话|"
    "多大|多高|多长|多久|说的|说|里|一起|一同|共同|文章|本文|该文|文件|行当|东西|事儿|事情|件事|最后|最终|想|样|分成|分为|划分为|共有|一共有|涉及|"
)
_STOP = re.compile("|".join(sorted((w for w in _STOP_WORDS.split("|") if w), key=len, reverse=True)))
# Words that name the kind of answer; they are matched by the answer's shape, not its words.
_KIND_WORDS = re.compile(
    "文号|发文字号|字号|编号|文件号|日期|时间节点|时间|什么时候|啥时候|时候|何时|哪天|哪一天|哪年|几月|几号|年份|"
    "依据|量化|定量|目标值|指标|目标|数量|数字(?!化)|数目|比例|比重|占比|百分比|部门|部委|单位|机构|定义|含义|意思|概念|是指|指的是"
)
_YEAR = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)")
_CN_YEAR = re.compile(r"[二〇零一三四五六七八九]{4}(?=年)")
# "五项主要任务是什么": a counted collection asked for as a whole is a list question.
_COUNT_NOUN = re.compile(
    r"(?<!哪)[一二三四五六七八九十\d]+(?:项|个|大|类|方面|条|点)[^\d]{0,6}(?:任务|措施|领域|方向|原则|工作|方面|部门|产业|目标|举措)"
    r"(?:是什么|是哪些|有哪些|包括什么|包括哪些|指什么|分别是什么|分别是)?\W*$"
)
_DOC_NAME = re.compile("(?:哪个|哪份|哪些|哪部|什么)(?:文件|纲要|规划|政策|文|法规|方案)|依据")
_TITLE = re.compile("标题|题目|名称|全称|叫什么")
_MEMBERSHIP = re.compile("属于|归于|归在|归属|算哪|是哪一|哪一类|哪类|哪一项|哪个方面|哪一方面|哪一部分")
_PURPOSE = re.compile("为了什么|为什么|为何|目的|用意|意义何在|初衷")
_QUESTION_WORDS = re.compile("哪些|哪个|哪几个|哪几|哪一|哪|多少|几|什么|啥|谁")
_COLLECTIVE_END = re.compile(r"(?:领域|方向|任务|措施|原则|部门|单位|举措|清单|名单)$")
_QUESTION_WORD = re.compile("什么|啥|哪|多少|几|吗|呢|谁|怎|如何|为何|为什么|是否|\\?")
_UNIT_ASKED = re.compile(r"(?:多少|几)(项|家|名|人|条|部|类|种|倍|亿元|万元|元|钱)")
_MONEY = re.compile("钱|资金|金额|投资|经费|补贴|奖金|补助|拨款|亿元|万元")
_PERCENT = re.compile("比例|比重|占比|百分|率")
_PRESENT = re.compile("目前|现在|当前|现阶段|已经|至今|截至目前|截止目前|迄今")
_PUBLISHED = re.compile("发布|公布|发表|上网|网上|挂出|刊登|公开")
_SIGNED = re.compile("落款|成文|签发|签署|印发|下发|发的|签")


def _literals(*patterns: re.Pattern[str]) -> str:
    """The plain words among regex alternatives, for the typo corrector's vocabulary."""
    words = (w for p in patterns for w in p.pattern.split("|"))
    return " ".join(w for w in words if re.fullmatch(r"[\u4e00-\u9fff]{2,}", w))


@dataclass(frozen=True)
class QuestionIntent:
    """What a question asks for."""

    kind: AnswerKind
    years: tuple[str, ...]
    segments: tuple[str, ...]  # normalised content pieces, question words removed
    generic_target: bool = False  # asks for all of a year's targets, not one
    unit: str | None = None  # the measure a number question asks in: 项, 家, %, 元…
    present: bool = False  # asks about the current state, not a target
    date_role: str | None = None  # "published" or "signed" for a question about a date
    focus: tuple[str, ...] = ()  # the words next to the question word: what is asked about
    asks_document_name: bool = False  # "依据哪个文件": the answer names a document 《…》
    asks_title: bool = False  # the answer may be a document's title line
    asks_membership: bool = False  # "X属于哪一类": the answer is the group that holds X
    asks_purpose: bool = False  # "为了什么": the answer is a purpose clause (为……)
    keyword_only: bool = False  # a search-box query without any question word
    asks_quantity: bool = False  # names a quantity (多少, 几项, 比例); "目标是什么" alone does not


def _years(norm: str) -> tuple[str, ...]:
    norm = _CN_YEAR.sub(lambda m: "".join(_CN_DIGITS.get(c, c) for c in m.group()), norm)
    # "25年" written for 2025 in speech and search boxes
    # "到25年", "那30年呢" said for 2025, 2030; "过去30年" is a duration, not the year 2030.
    norm = re.sub(r"(?:(?<![\d\u4e00-\u9fff])|(?<=[到至在于那么外]))([2-4]\d)年", lambda m: f"20{m.group(1)}年", norm)
    return tuple(dict.fromkeys(_YEAR.findall(norm)))


# The question words of each answer kind, in the order classify() tries them.
_DOCNUM_Q = re.compile("文号|发文字号|字号|文件号|编号")
_WHEN_Q = re.compile("什么时候|啥时候|啥时|何时|哪天|哪一天|几月|几号|日期|时间|哪年|哪一年|哪几年|哪些年")
_WHO_Q = re.compile(
    "谁|哪个部门|哪些部门|哪几个部门|什么部门|哪些单位|哪个单位|什么单位|哪家|哪几家|哪些机构|发布单位|发文单位|发文机关|"
    "印发部门|联合印发|牵头|来源|出处|部委"
)
# "各是什么/分别是什么" asks for the items even when it also asks how many.
_ITEMS_Q = re.compile("各是|分别是|都是什么|都是哪些|是哪些|有哪些|哪[一二三四五六七八九十\\d]+[项个条类大]")
_NUMBER_Q = re.compile(
    "多少|(?<![这那])几[项个家大类成倍步%]|几$|比例|比重|占比|百分之|百分比|转化率|数量|数目|数字(?!化)|指标(?!体系)|目标值|量化|定量|"
    "[^主]目标是?(?:什么|多少)"
)
_LIST_Q = re.compile(
    "哪些|哪几|包括|包含|有什么|有啥|都有|分别|列举|列出|几大|几个方面|清单|名单|范围|"
    "(?:任务|措施|领域|原则|方向|举措)(?:是什么|是啥|指什么)"  # a collection asked for as a whole
)
_DEFINITION_Q = re.compile("什么是|是什么意思|什么意思|指什么|指的是|是指|含义|定义|概念|何谓|啥叫|什么叫|啥意思")


def classify(norm: str) -> AnswerKind:
    """The expected answer kind from question words (normalised question)."""
    if _DOCNUM_Q.search(norm):
        return "docnum"
    if _WHEN_Q.search(norm):
        return "when"
    if _WHO_Q.search(norm):
        return "who"
    wants_items = _ITEMS_Q.search(norm)
    if _NUMBER_Q.search(norm) and not wants_items and "哪几" not in norm:
        return "number"
    if wants_items or _LIST_Q.search(norm) or _COUNT_NOUN.search(norm):
        return "list"
    if not _QUESTION_WORD.search(norm) and _COLLECTIVE_END.search(norm):
        return "list"  # a keyword query naming a collection: "新兴产业 重点领域"
    if _DEFINITION_Q.search(norm):
        return "definition"
    return "text"


def _unit(norm: str) -> str | None:
    asked = _UNIT_ASKED.search(norm)
    if asked:
        unit = asked.group(1)
        return "元" if unit in ("亿元", "万元", "钱") else unit
    if _PERCENT.search(norm):
        return "%"
    if _MONEY.search(norm):
        return "元"
    return None


# One-character question words that are also often part of content words (参与, 涉及, 说明).
_WORD_PARTS = frozenset("与及或跟算整弄搞想样说里到")


def _remove_stop_words(text: str, vocabulary: Container[str]) -> str:
    """Question words replaced by "|", except one-character ones inside a known word.

    "参与" stays whole although 与 alone is a joining word, when the corpus knows "参与".
    """

    def replace(match: re.Match[str]) -> str:
        word, at = match.group(), match.start()
        if word in _WORD_PARTS and (text[max(0, at - 1) : at + 1] in vocabulary or text[at : at + 2] in vocabulary):
            return word
        return "|"

    return _STOP.sub(replace, text)


def analyse(question: str, vocabulary: Container[str] = frozenset()) -> QuestionIntent:
    """Analyse a question into its answer kind, years and content pieces.

    `vocabulary` (the corpus's bigrams) keeps words whole that a one-character question word
    would otherwise split.
    """
    norm = normalize(question)
    kind = classify(norm)
    years = _years(norm)
    content = _YEAR.sub("|", _CN_YEAR.sub("|", norm))
    content = re.sub(r"(?<![\d])[2-4]\d年|年底|年末|年前|年", "|", content)
    content = _KIND_WORDS.sub("|", content)
    if kind == "when":
        content = _PUBLISHED.sub("|", _SIGNED.sub("|", content))
    content = _remove_stop_words(content, vocabulary)
    segments = tuple(s for s in re.split(r"[|\W_]+", content) if s)
    focus = _focus(norm, segments)
    substantive = [s for s in segments if len(s) >= 2]
    generic = bool(years) and (not substantive or (kind == "number" and bool(re.search("哪些|哪几", norm))))
    if kind in ("text", "list") and years and re.search("目标|指标", norm) and not substantive:
        kind = "number"
    return QuestionIntent(
        kind=kind,
        years=years,
        segments=segments,
        generic_target=generic,
        unit=_unit(norm) if kind == "number" else None,
        present=bool(_PRESENT.search(norm)) and not years,
        date_role="published" if _PUBLISHED.search(norm) else "signed" if _SIGNED.search(norm) else None,
        focus=focus,
        asks_document_name=bool(_DOC_NAME.search(norm)),
        asks_title=bool(_TITLE.search(norm)),
        asks_membership=bool(_MEMBERSHIP.search(norm)),
        asks_purpose=bool(_PURPOSE.search(norm)),
        keyword_only=not _QUESTION_WORD.search(norm),
        asks_quantity=bool(re.search("多少|(?<![这那])几|比例|比重|占比|百分|率|数量|数目|数字|量化|定量", norm)),
    )


def _focus(norm: str, segments: tuple[str, ...]) -> tuple[str, ...]:
    """The question's focus: the content word right after the question word, else right before.

    "需要提交哪些材料" → 材料; "部长是谁" → 部长. An answer must speak of its focus.
    """
    match = _QUESTION_WORDS.search(norm)
    if not match:
        return ()
    placed = [(norm.find(s), s) for s in segments if len(s) >= 2 and norm.find(s) >= 0]
    after = [(pos, s) for pos, s in placed if pos >= match.end()]
    if after:
        return (min(after)[1][:2],)
    before = [(pos, s) for pos, s in placed if pos + len(s) <= match.start()]
    return (max(before)[1][-2:],) if before else ()


# Question words the analyser understands: the typo corrector leaves them alone.
QUESTION_VOCABULARY = _literals(*(v for v in list(globals().values()) if isinstance(v, re.Pattern)))
