"""Candidate answers: every sentence of every document, with its place and context.

A candidate is a sentence (or an enumeration item inside one) of a content line of the
outline; heading-only lines never answer. Each knows its section path, its line's lead
clause (e.g. "到2025年", which governs the years of the sentences after it), the previous
sentence, its typed facts, and the numbered group it belongs to (一是…二是…, （一）…（二）…,
第一条…第二条…), so a list question can be answered by every item of a group.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from qa.text.chunking import sentence_spans
from qa.text.grammar import Fact, find_facts, iso_date, years_in
from qa.text.normalize import char_bigrams, normalize
from qa.text.outline import PAREN_NUMERALS, Line, parse_outline
from qa.types import Document

_CLAUSE_CUT = re.compile(r"[，,：:；;]")
_ENUM_ITEM = re.compile(rf"^(?:[一二三四五六七八九十]+是|[(（][一二三四五六七八九十]+[)）]|{PAREN_NUMERALS}|\d{{1,2}}(?:、|\.(?!\d)))")
_SHI_ITEM = re.compile(r"^[一二三四五六七八九十]+是")  # "一是……", "二是……": items a paragraph each
_LEAD_YEAR = re.compile(r"^(?:到|至|截至|截止到?|在|从|自)?\s*((?:19|20)\d{2})\s*年")
Span = tuple[int, int]


@dataclass(frozen=True)
class Sentence:
    """A candidate answer sentence with its structural context."""

    doc_id: str
    index: int  # position in the document's sentence list
    start: int
    end: int
    text: str
    line: int  # index of its outline line
    section: str
    path: tuple[str, ...]
    lead: Span  # the line's opening clause
    years: tuple[str, ...]  # years that govern it: its own, and its line's lead year
    context_years: tuple[str, ...]  # years its document's title and headings state (《》 titles aside)
    facts: tuple[Fact, ...]  # typed facts, offsets absolute in the document
    group: tuple[str, int] | None  # (group key, item number) when it opens a numbered item
    is_line_start: bool
    bigrams: frozenset[str] = field(compare=False, default=frozenset())


@dataclass
class DocumentSentences:
    """A document's outline and sentences, with lookups used by the answerer."""

    doc: Document
    lines: list[Line]
    sentences: list[Sentence]
    groups: dict[str, list[int]]  # group key → indices of the sentences that open its items
    issuers: list[Span]  # where the document names who issued it: its sign-off (落款), else its 来源 line or title
    title_bigrams: frozenset[str]

    def clauses(self, sentence: Sentence) -> list[Span]:
        return clause_spans(self.doc.text, sentence.start, sentence.end)

    @cached_property
    def bigrams(self) -> frozenset[str]:
        """Every character bigram of the document's sentences and title."""
        return frozenset().union(self.title_bigrams, *(s.bigrams for s in self.sentences))

    @cached_property
    def _starts(self) -> list[int]:
        return [s.start for s in self.sentences]

    def on_lines_touching(self, start: int, end: int) -> list[Sentence]:
        """The sentences of every line that [start, end) overlaps, found by bisection (sentences are in text order)."""
        starts = self._starts
        first = max(0, bisect.bisect_right(starts, start) - 1)
        last = bisect.bisect_left(starts, end)
        touched = [s for s in self.sentences[first:last] if s.start < end and start < s.end]
        if not touched:
            return []
        lo, hi = touched[0].index, touched[-1].index
        while lo > 0 and self.sentences[lo - 1].line == touched[0].line:
            lo -= 1
        while hi + 1 < len(self.sentences) and self.sentences[hi + 1].line == touched[-1].line:
            hi += 1
        return self.sentences[lo : hi + 1]


def clause_spans(text: str, start: int, end: int) -> list[Span]:
    """Split text[start:end] at clause punctuation outside 《》, “” and brackets."""
    spans: list[Span] = []
    depth = 0
    a = start
    for i in range(start, end):
        ch = text[i]
        if ch in "《“(（「『[【":
            depth += 1
        elif ch in "》”)）」』]】":
            depth = max(0, depth - 1)
        elif depth == 0 and _CLAUSE_CUT.match(ch) and not (ch in ":：" and text[i - 1 : i].isdigit() and text[i + 1 : i + 2].isdigit()):
            if i > a:
                spans.append((a, i))
            a = i + 1
    tail = end
    while tail > a and text[tail - 1] in "。！？!?；;":
        tail -= 1
    if tail > a:
        spans.append((a, tail))
    return spans


def _group_key(line: Line) -> str:
    """Numbered lines of one style under one parent form a group: 第一条…第九条, （一）…（五）."""
    return f"{line.style}|{' › '.join(line.path[:-1])}"


def document_sentences(doc: Document) -> DocumentSentences:
    """The candidate sentences of one document."""
    text = doc.text
    lines = parse_outline(text)
    sentences: list[Sentence] = []
    groups: dict[str, list[int]] = defaultdict(list)
    title = normalize(doc.title)
    for n, line in enumerate(lines):
        # A heading answers nothing, nor does the document's own title whatever its punctuation ("…100问之五：
        # 0-6岁儿童健康管理服务"), unless it states a document number ("…处理意见 (武劳社〔2004〕135号)").
        own_title = bool(title) and normalize(text[line.text_start : line.end]) == title
        if (line.is_heading or own_title) and not any(f.kind == "docnum" for f in find_facts(text[line.text_start : line.end])):
            continue
        spans = sentence_spans(text, line.text_start, line.end)
        if not spans:
            continue
        lead_clauses = clause_spans(text, spans[0][0], spans[0][1])
        lead = lead_clauses[0] if lead_clauses else spans[0]
        lead_year = _LEAD_YEAR.match(text[line.text_start : line.end])
        inline_items = [i for i, (a, b) in enumerate(spans) if _ENUM_ITEM.match(text[a:b])]
        run_years: set[str] = set()  # years of the sentences before this one in its run of ；-closed clauses
        for i, (a, b) in enumerate(spans):
            sentence_text = text[a:b]
            years = set(years_in(re.sub(r"《[^》]*》", "", sentence_text)))
            if lead_year:
                years.add(lead_year.group(1))
            group: tuple[str, int] | None = None
            if i == 0 and line.marker and line.style not in ("part", "question") and not line.style.startswith("markdown"):
                key = _group_key(line)
                group = (key, len(groups[key]))
            elif i in inline_items and len(inline_items) >= 2:
                key = f"inline|{n}"
                group = (key, len(groups[key]))
            elif i == 0 and not line.marker and _SHI_ITEM.match(sentence_text):
                # 一是/二是 items that open paragraphs of one section form a group, as numbered lines do.
                key = f"shi|{' › '.join(line.path)}"
                group = (key, len(groups[key]))
            # "2016年基准定额为：中西部…800元；东部…850元。": a year stated earlier in the clauses governs the rest.
            headed = set(years_in(re.sub(r"《[^》]*》", "", " ".join((doc.title, *line.path)))))
            context_years = tuple(sorted((headed | run_years) - years))
            run_years = run_years | years if sentence_text.rstrip().endswith(("；", ";")) else set()
            index = len(sentences)
            if group:
                groups[group[0]].append(index)
            facts = tuple(Fact(f.kind, f.start + a, f.end + a, f.text, f.value, f.unit) for f in find_facts(sentence_text))
            sentences.append(
                Sentence(
                    doc_id=doc.doc_id,
                    index=index,
                    start=a,
                    end=b,
                    text=sentence_text,
                    line=n,
                    section=line.section,
                    path=line.path,
                    lead=lead,
                    years=tuple(sorted(years)),
                    context_years=context_years,
                    facts=facts,
                    group=group,
                    is_line_start=i == 0,
                    bigrams=frozenset(char_bigrams(sentence_text)),
                )
            )
    return DocumentSentences(
        doc=doc,
        lines=lines,
        sentences=sentences,
        groups={k: v for k, v in groups.items() if len(v) >= 2},
        issuers=_issuers(text, lines),
        title_bigrams=frozenset(char_bigrams(doc.title)),
    )


# A line that is the name of a body: it ends as Chinese names of organs, offices and institutions end.
_ORG_LINE = re.compile(
    r"^[\u4e00-\u9fff()（）、]{2,30}(?:部|局|委员会|委|厅|署|办公室|办公厅|总局|院|会|司|办|政府|常委会|银行|中心|处|所|站|集团|公司|小组|大学|学院|社|馆|队)$"
)


# A page's field naming its source or issuing body: "文章来源: 深圳市住房和建设局", "发文机关：…".
_SOURCE_FIELD = re.compile(r"(?:文章来源|信息来源|来源|发布机构|发文机关|发文单位|发布单位)\s*[:：]\s*([^\s:：]{2,40})")
_TITLE_ISSUERS = re.compile(r"(.{2,80}?)关于")
_NAME_RUN = re.compile(r"[^\s、]+")  # joint issuers in a title are set apart by spaces or 、


def _issuers(text: str, lines: list[Line]) -> list[Span]:
    """Where a document names who issued it: its sign-off (落款); else a source field near its top;
    else the bodies its title opens with ("上海市人民政府关于印发…的通知")."""
    signed = _sign_off(text, lines)
    if signed:
        return signed
    for line in lines[:12]:
        field = _SOURCE_FIELD.search(text, line.text_start, line.end)
        if field and _ORG_LINE.match(field.group(1)):
            return [field.span(1)]
    first = next((ln for ln in lines if text[ln.text_start : ln.end].strip()), None)
    if first is None:
        return []
    opening = _TITLE_ISSUERS.match(text, first.text_start, first.end)
    if not opening:
        return []
    names = [m.span() for m in _NAME_RUN.finditer(text, first.text_start, opening.end(1))]
    return names if names and all(_ORG_LINE.match(text[a:b]) for a, b in names) else []


# A sign-off dated by its month only: "2015年4月", "二〇一五年四月", "(2015年12月)".
_MONTH_LINE = re.compile(r"^\s*[(（]?\s*(?:\d{4}|[〇○零一二三四五六七八九]{4})\s*年\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*[)）]?\s*$")


def _sign_off(text: str, lines: list[Line]) -> list[Span]:
    """The longest run of consecutive one-line organisation names followed by a date (落款), the day or only the month."""
    best: list[Span] = []
    run: list[Span] = []
    for line in lines:
        body = text[line.start : line.end]
        # Joint issuers share a line ("财 政 部    人力资源社会保障部"), spaced as the page set them.
        if _ORG_LINE.match(re.sub(r"\s+", "", body)) and not line.marker:
            run.append((line.start, line.end))
            continue
        if run and (iso_date(body) or _MONTH_LINE.match(body)) and len(body) <= 20 and len(run) > len(best):
            best = run
        run = []
    return best


def sentences_by_doc(documents: Iterable[Document]) -> dict[str, DocumentSentences]:
    return {d.doc_id: document_sentences(d) for d in documents}


# Bump when what document_sentences computes changes: saved tables of another version are computed again
# (with the library's other derived tables, such as the corrector's, at that build).
SENTENCES_VERSION = 34


def sentence_idf(docs: Iterable[DocumentSentences]) -> dict[str, float]:
    """Each bigram's inverse document frequency over all candidate sentences (BM25's smoothed form)."""
    df: Counter[str] = Counter()
    n = 0
    for d in docs:
        for s in d.sentences:
            df.update(s.bigrams)
            n += 1
    n = max(1, n)
    return {g: math.log(1 + (n - f + 0.5) / (f + 0.5)) for g, f in df.items()}


def sentences_to_json(table: DocumentSentences) -> dict[str, Any]:
    """A document's sentence table as plain JSON values; texts are not repeated (they are spans of the document)."""
    return {
        "doc_id": table.doc.doc_id,
        "lines": [[ln.start, ln.end, ln.style, ln.level, ln.marker, ln.is_heading, list(ln.path), ln.text_start] for ln in table.lines],
        "sentences": [
            [
                s.start,
                s.end,
                s.line,
                list(s.lead),
                list(s.years),
                list(s.context_years),
                [[f.kind, f.start, f.end, f.text, f.value, f.unit] for f in s.facts],
                list(s.group) if s.group else None,
                s.is_line_start,
                sorted(s.bigrams),
            ]
            for s in table.sentences
        ],
        "groups": table.groups,
        "issuers": [list(span) for span in table.issuers],
        "title_bigrams": sorted(table.title_bigrams),
    }


def sentences_from_json(doc: Document, data: dict[str, Any]) -> DocumentSentences:
    """The inverse of `sentences_to_json`, given the document; a table that does not fit it is a ValueError."""
    text = doc.text
    if data["doc_id"] != doc.doc_id:
        raise ValueError(f"sentence table of {data['doc_id']} given for {doc.doc_id}")
    lines = [Line(int(a), int(b), str(st), int(lv), str(mk), bool(hd), tuple(map(str, path)), int(ts)) for a, b, st, lv, mk, hd, path, ts in data["lines"]]
    sentences = []
    for index, (a, b, n, lead, years, context_years, facts, group, line_start, bigrams) in enumerate(data["sentences"]):
        line = lines[n]
        if not 0 <= a <= b <= len(text):
            raise ValueError(f"sentence {index} of {doc.doc_id} lies outside its document")
        sentences.append(
            Sentence(
                doc_id=doc.doc_id,
                index=index,
                start=a,
                end=b,
                text=text[a:b],
                line=n,
                section=line.section,
                path=line.path,
                lead=(int(lead[0]), int(lead[1])),
                years=tuple(years),
                context_years=tuple(context_years),
                facts=tuple(Fact(k, fa, fb, ft, v, u) for k, fa, fb, ft, v, u in facts),
                group=(str(group[0]), int(group[1])) if group else None,
                is_line_start=bool(line_start),
                bigrams=frozenset(bigrams),
            )
        )
    return DocumentSentences(
        doc=doc,
        lines=lines,
        sentences=sentences,
        groups={str(k): [int(i) for i in v] for k, v in data["groups"].items()},
        issuers=[(int(a), int(b)) for a, b in data["issuers"]],
        title_bigrams=frozenset(data["title_bigrams"]),
    )
