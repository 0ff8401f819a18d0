"""The outline of a Chinese official document: every line with its level and section path.

One parser for the heading systems these documents use:

- Markdown headings (`#` … `######`);
- 第X编 / 第X章 / 第X节 / 第X条 / 第X款 articles;
- 一、 （一） ㈠ 1. （1） ⑴ ① numbered items, and `-`/`*` bullets;
- questions on their own line ending in ？ (the headings of a 解读 in Q&A form);
- part titles: a short line naming a document genre (…的通知, …实施方案, …解读), which
  starts a new part of a compound document (a notice and the plan it issues).

Levels are not fixed per style: as in a word processor's outline, a style seen for the first
time goes one level below the current line, and a style already open closes everything
below it. So 第一章 › 第三条 › （一） and 一、 › （一） › 1. both nest correctly, whatever
a document's house style. A numbered line that holds a sentence ("第五条 本办法所称……。",
"二、春节：2月4日至10日放假。") is content as well as structure: it opens its own section
and is also text that can answer a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_NUM = "一二三四五六七八九十百千零〇○两"
# Single characters some offices type for a numbered item: ㈠…㈩ for （一）…（十）, ⑴…⒇ for （1）…（20）.
CN_PAREN_CHARS = "\u3220-\u3229"
NUM_PAREN_CHARS = "\u2474-\u2487"
PAREN_NUMERALS = f"[{CN_PAREN_CHARS}{NUM_PAREN_CHARS}]"
# (style, pattern): the marker at the start of a line. Order matters only where two
# patterns could match the same text (第X条 before a bare number).
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("markdown", re.compile(r"^(#{1,6})\s*")),
    ("article", re.compile(rf"^第[{_CN_NUM}\d]+(编|章|节|条|款)(?=\s|　|$|[^\s{_CN_NUM}\d])")),
    ("cn-dun", re.compile(rf"^[{_CN_NUM}]+[、．.](?!\d)")),
    ("cn-paren", re.compile(rf"^(?:[(（][{_CN_NUM}]+[)）]|[{CN_PAREN_CHARS}])")),
    # "1." before a year is an item ("1.2025年度积分制入户指标有多少个？"), before another digit a decimal.
    ("num-dot", re.compile(r"^\d{1,3}(?:[、．]|\.(?!\d)|\.(?=(?:19|20)\d{2}年))")),
    ("num-paren", re.compile(rf"^(?:[(（]\d{{1,3}}[)）]|[{NUM_PAREN_CHARS}])")),
    ("circled", re.compile(r"^[\u2460-\u2473\u3251-\u325f]")),
    ("bullet", re.compile(r"^[-*•·]\s+")),
)
# A sentence inside a line: a numbered line holding one is content, not only a heading.
_SENTENCE_PUNCT = re.compile(r"[。；;！!]|[，,].{4,}|[：:]\s*$|[：:].{8,}")
_QUESTION_END = re.compile(r"[?？]\s*$")
# Document genres: a short line ending in one names a document (or a part of one).
GENRE_WORDS = (
    "通知",
    "通告",
    "公告",
    "决定",
    "决议",
    "意见",
    "办法",
    "条例",
    "规定",
    "细则",
    "规则",
    "规划",
    "纲要",
    "计划",
    "方案",
    "指南",
    "指引",
    "解读",
    "答记者问",
    "法",
    "批复",
    "函",
    "报告",
    "章程",
    "标准",
    "目录",
    "清单",
)
_PART_TITLE = re.compile(rf"^[^。；;！!？?]{{4,80}}?(?:{'|'.join(GENRE_WORDS)})(?:[(（][^)）]{{1,30}}[)）])?$")
_HEADING_MAX = 60  # a heading without sentence punctuation is at most this long
# A labelled field of a page's header table ("标  题： \t国务院关于……的通知", "发文字号：国发〔2015〕67号"): not a title.
_FIELD_LINE = re.compile(r"^[^：:]{1,10}[：:]\s")
# A line that cannot be the first half of a title broken over two lines: a date ("2023年8月22日",
# "二○一一年一月二十七日"), an attachment's label, a note in brackets, a document number, a file
# name, bodies separated by spaces (a sign-off), or a sentence.
_NOT_TITLE_HEAD = re.compile(r"^(?:\d{4}|[〇○零一二三四五六七八九]{4})年|^附件|^[（(]|号$|\.|\s|[。；;！!？?，,：:]")
# A labelled field of body text: "补贴条件：", "补贴标准：每连续租满1年补贴6000元。" (not "问：", not a clause ending in ：).
FIELD_LABEL = re.compile(r"^[\u4e00-\u9fff]{2,6}[：:]")
_LABEL_MAX = 16  # the short title kept after a marker in a content line's label


@dataclass(frozen=True)
class Line:
    """A non-empty line of a document with its place in the outline."""

    start: int
    end: int
    style: str  # marker style ("article", "cn-dun", …), "part", "question", or "" for body text
    level: int  # depth in the outline: 0 for a part title, 1.. for headings, deeper for body text
    marker: str  # the marker text: "第十二条", "（三）", "一、", "##"; "" when none
    is_heading: bool  # only a heading: no sentence of its own that could answer a question
    path: tuple[str, ...]  # section labels from the part down to this line's own section
    text_start: int  # where the line's own text begins (after a Markdown marker)

    @property
    def section(self) -> str:
        return " › ".join(self.path)


def _label(text: str, marker: str, is_heading: bool) -> str:
    """A section label: a heading whole (at most a line), a content line's marker and short title."""
    body = text[len(marker) :].strip() if marker and not marker.startswith("#") else text.lstrip("#").strip()
    if is_heading:
        return body if marker.startswith("#") else text.strip()
    # "二、春节：2月4日至10日放假" → "二、春节"; "第五条 本办法所称……" → "第五条".
    lead = re.split(r"[：:，,。；;\s　]", body, maxsplit=1)[0]
    keep = lead if 0 < len(lead) <= _LABEL_MAX and re.search(r"[：:]", body[: len(lead) + 1]) else ""
    if marker.startswith("第") and body.startswith(("【", "（", "(")):
        keep = re.split(r"[】)）]", body, maxsplit=1)[0] + ("】" if body.startswith("【") else "）")
    return (marker + keep).strip()


def _marker(text: str) -> tuple[str, str]:
    for style, pattern in _MARKERS:
        m = pattern.match(text)
        if m:
            if style == "markdown":
                return f"markdown{len(m.group(1))}", m.group(1)
            if style == "article":
                return f"article-{m.group(1)}", m.group()
            return style, m.group()
    return "", ""


def is_part_title(text: str) -> bool:
    """A short line without sentence punctuation naming a document genre (not a labelled field)."""
    return len(text) <= 80 and bool(_PART_TITLE.match(text.strip())) and not _FIELD_LINE.match(text.strip())


def _title_head(previous: Line | None, text: str, title: str) -> str:
    """The first half of a title broken over two lines ("国务院关于进一步完善城乡义务教育" above
    "经费保障机制的通知"): the line before, when it is a short line that is not a title itself
    and the two together make one; "" otherwise."""
    if previous is None or previous.style not in ("", "part") or previous.is_heading != (previous.style == "part"):
        return ""
    head = text[previous.start : previous.end]
    if previous.style == "part" and previous.path != (head,):
        return ""
    if not 6 <= len(head) <= 40 or _NOT_TITLE_HEAD.search(head) or is_part_title(head):
        return ""
    return head if len(head) + len(title) <= _HEADING_MAX and is_part_title(head + title) else ""


def _is_title_line(text: str) -> bool:
    """The opening line of a document is its title when it is short and holds no sentence."""
    # A line wholly in brackets is a note ("（2011年4月18日……公布 自2011年5月1日起施行）"), not a title.
    bracketed = text.startswith(("（", "(")) and text.endswith(("）", ")"))
    return len(text) <= _HEADING_MAX and not bracketed and not re.search(r"[。；;！!，,：:]", text)


def parse_outline(text: str) -> list[Line]:
    """Every non-empty line of `text` with its style, level, heading flag and section path."""
    lines: list[Line] = []
    stack: list[tuple[str, str]] = []  # (style, label) of the open sections, outermost first
    part = ""
    field_depth: int | None = None  # depth of the last labelled field line, while its items are open
    for m in re.finditer(r"[^\n]+", text):
        raw = m.group()
        stripped = raw.strip()
        if not stripped:
            continue
        start = m.start() + (len(raw) - len(raw.lstrip()))
        end = start + len(stripped)
        style, marker = _marker(stripped)
        text_start = start + len(stripped) - len(stripped[len(marker) :].lstrip()) if style.startswith("markdown") else start
        body = stripped[len(marker) :].strip() if marker else stripped
        sentence = bool(_SENTENCE_PUNCT.search(body))
        if style.startswith("markdown"):
            is_heading = True
            if len(marker) == 1:
                part, stack = body, []
                lines.append(Line(start, end, "part", 0, marker, True, (part,), text_start))
                continue
        elif not style and (is_part_title(stripped) or (not lines and _is_title_line(stripped))):
            head = _title_head(lines[-1] if lines else None, text, stripped)
            part, stack = head + stripped, []
            if head:
                before = lines.pop()
                lines.append(Line(before.start, before.end, "part", 0, "", True, (part,), before.text_start))
            lines.append(Line(start, end, "part", 0, "", True, (part,), text_start))
            continue
        elif not style and len(stripped) <= 80 and _QUESTION_END.search(stripped):
            style, is_heading = "question", True
        elif style:
            is_heading = len(stripped) <= _HEADING_MAX and not sentence and style != "bullet"
        else:
            # Body text: belongs to the innermost open section. A labelled field ("补贴对象：……") is
            # a sibling of the field before it ("补贴条件：" and the items under it), not inside its items.
            if FIELD_LABEL.match(stripped):
                if field_depth is not None and field_depth < len(stack):
                    del stack[field_depth:]
                field_depth = len(stack)
            path = (part, *[label for _, label in stack]) if part else tuple(label for _, label in stack)
            lines.append(Line(start, end, "", len(stack) + 1, "", False, path, text_start))
            continue
        if style.startswith("markdown"):
            # A Markdown heading is a block of the document itself: it closes every open section
            # but the Markdown headings above its level (a "## 第一章" after a bullet list is not inside it).
            depth = int(style.removeprefix("markdown"))
            while stack and not (stack[-1][0].startswith("markdown") and int(stack[-1][0].removeprefix("markdown")) < depth):
                stack.pop()
        else:
            # Bullets are leaves: a numbered line after them (第一条 after "- 第1~17条：") is not inside them.
            while style != "bullet" and stack and stack[-1][0] == "bullet":
                stack.pop()
            if any(s == style for s, _ in stack):
                while stack and stack[-1][0] != style:
                    stack.pop()
                stack.pop()
        stack.append((style, _label(stripped, marker, is_heading)))
        if field_depth is not None and (is_heading or len(stack) <= field_depth):
            field_depth = None  # a heading, or a line at the fields' level or above: a new run of fields
        path = (part, *[label for _, label in stack]) if part else tuple(label for _, label in stack)
        lines.append(Line(start, end, style, len(stack), marker, is_heading, path, text_start))
    return lines

