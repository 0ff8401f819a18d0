"""Answer units: the sentences and clauses of each document, with their structural context."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from qa.text.chunking import paragraphs, part_label, sentence_spans
from qa.text.normalize import char_bigrams
from qa.types import Document

_CLAUSE_CUT = re.compile(r"[，,：:；;]")
_ENUM_ITEM = re.compile(r"^(?:[一二三四五六七八九十]+是|[(（][一二三四五六七八九十]+[)）]|\d{1,2}(?:、|\.(?!\d)))")
_LEAD_YEAR = re.compile(r"^(?:到|至|截至|截止到?|在)?\s*(\d{4})年")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?=年)")
QUANTITY = re.compile(
    r"(?:超过|达到|不少于|不低于|至少|约|近|逾)?"
    r"(?:\d+(?:\.\d+)?(?:%|％|万|亿)?(?:项|家|个|件|类|大|名|人|次|倍|条|部|种)?|[一二三四五六七八九十两百千]+(?:项|个|类|方面|步|家|名|条|部|种|大(?=领域|类|任务|产业|方向|板块|工程|行动)))"
    r"(?:以上|以下|左右|以内|多)?"
)
DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2})?")
DOCNUM = re.compile(r"〔\d{4}〕\s*\d+\s*号|\[\d{4}\]\s*\d+\s*号")
ORG = re.compile(r"(?:部|局|委员会|委|厅|司|办公室|总局|院|协会|中心)(?=[、,，:：]|$|组织|联合|等)")
# Any mention of an organisation, for "who" questions ("鼓励谁" → 标准化研究机构).
ORG_MENTION = re.compile(r"(?<![全内外局])(?:部|局|委员会|委|厅|司|办公室|院|协会|中心|机构|组织|企业|单位)(?![分署长])")
# A whole line that is an organisation's name, as in a document's sign-off (落款).
ORG_NAME = re.compile(r"[\u4e00-\u9fff()（）]{2,20}(?:部|局|委员会|委|厅|署|办公室|总局|院|会|司|办)")
YEAR_ONLY = re.compile(r"(?<!\d)(?:19|20)\d{2}年")


@dataclass(frozen=True)
class Unit:
    """A clause (or whole short sentence) with the spans of what surrounds it."""

    doc_id: str
    start: int
    end: int
    text: str
    sentence: tuple[int, int]
    paragraph: tuple[int, int]
    section: str
    heading: str
    lead: str  # the paragraph's opening clause, e.g. "到2025年"
    lead_span: tuple[int, int]
    years: tuple[str, ...]
    enum_group: int | None  # paragraph-level enumeration (一是/二是…) this clause's sentence is in
    enum_item: int | None  # index of the item within its group
    is_sentence_start: bool
    is_heading: bool
    is_part_title: bool

    @property
    def is_list(self) -> bool:
        return self.text.count("、") >= 2

    @cached_property
    def quantity_units(self) -> frozenset[str]:
        """The measures of the quantities in this clause: {"项"}, {"%"}…; empty when none."""
        found = set()
        for m in QUANTITY.finditer(strip_titles(self.text)):
            token = m.group()
            if _is_quantity(token):
                unit = re.search(r"[%％]|亿|万|项|家|个|件|类|大|名|人|次|倍|条|部|种|方面|步", token)
                found.add("%" if unit and unit.group() == "％" else unit.group() if unit else "")
        return frozenset(found)

    @property
    def org_count(self) -> int:
        return len(ORG.findall(self.text))


def _is_quantity(token: str) -> bool:
    # A bare number (a year, a page) is not a quantity; a number with a unit or qualifier is.
    return bool(
        re.search(r"[%％项家个件类大名人次倍条部种方面步]|以上|以下|左右|以内|超过|达到|不少于|不低于|至少", token)
    ) and bool(re.search(r"\d|[一二三四五六七八九十两百千]", token))


def _clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a sentence at clause punctuation outside 《》, “” and brackets."""
    spans: list[tuple[int, int]] = []
    depth = 0
    a = start
    for i in range(start, end):
        ch = text[i]
        if ch in "《“(（「『[":
            depth += 1
        elif ch in "》”)）」』]":
            depth = max(0, depth - 1)
        elif (
            depth == 0
            and _CLAUSE_CUT.match(ch)
            and not (ch in ":：" and text[i - 1 : i].isdigit() and text[i + 1 : i + 2].isdigit())
        ):
            if i > a:
                spans.append((a, i))
            a = i + 1
    tail_end = end
    while tail_end > a and text[tail_end - 1] in "。！？!?；;":
        tail_end -= 1
    if tail_end > a:
        spans.append((a, tail_end))
    return spans


def iso_date(text: str) -> str:
    """A date as YYYY-MM-DD ("2023年8月3日", "2023-08-03 15:09" alike); "" when there is none."""
    match = re.search(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})", text)
    return f"{match.group(1)}-{int(match.group(2)):02d}-{int(match.group(3)):02d}" if match else ""


def strip_titles(text: str) -> str:
    return re.sub(r"《[^》]*》", "", text)


def document_units(doc: Document) -> list[Unit]:
    """All clauses of a document, each knowing its sentence, paragraph, section and year."""
    units: list[Unit] = []
    part = part_label(doc.title)
    heading = ""
    section = part
    group_id = 0
    for para in paragraphs(doc.text):
        para_text = doc.text[para.start : para.end]
        if para.kind == "part":
            part, heading, section = part_label(para_text), "", part_label(para_text)
        elif para.kind == "heading":
            heading, section = para_text, f"{part} › {para_text}"
        lead_clauses = _clause_spans(doc.text, para.start, para.end)
        lead_span = lead_clauses[0] if lead_clauses else (para.start, para.start)
        lead = doc.text[lead_span[0] : lead_span[1]]
        lead_year = _LEAD_YEAR.match(para_text)
        sentences = sentence_spans(doc.text, para.start, para.end)
        group_id += 1
        item = -1
        for s_start, s_end in sentences:
            sentence_text = doc.text[s_start:s_end]
            enum_item = None
            if _ENUM_ITEM.match(sentence_text):
                item += 1
                enum_item = item
            for i, (c_start, c_end) in enumerate(_clause_spans(doc.text, s_start, s_end)):
                clause = doc.text[c_start:c_end]
                years = set(_YEAR.findall(strip_titles(clause)))
                if lead_year:
                    years.add(lead_year.group(1))
                units.append(
                    Unit(
                        doc_id=doc.doc_id,
                        start=c_start,
                        end=c_end,
                        text=clause,
                        sentence=(s_start, s_end),
                        paragraph=(para.start, para.end),
                        section=section,
                        heading=heading,
                        lead=lead,
                        lead_span=lead_span,
                        years=tuple(sorted(years)),
                        enum_group=group_id if enum_item is not None else None,
                        enum_item=enum_item,
                        is_sentence_start=i == 0,
                        is_heading=para.kind == "heading",
                        is_part_title=para.kind == "part" or para.start == 0,
                    )
                )
    return units


def bigram_idf(texts: Iterable[str]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of character bigrams over texts, and the idf of an unseen bigram."""
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update(set(char_bigrams(text)))
    idf = {g: math.log(1 + (n - f + 0.5) / (f + 0.5)) for g, f in df.items()}
    return idf, math.log(1 + (n + 0.5) / 0.5)
