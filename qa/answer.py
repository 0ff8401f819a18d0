"""Extractive answers: choose the clauses that answer a question from the retrieved passages.

Nothing is generated. Each answer is one or more exact spans of a document, each with a
citation; when the evidence is too weak, or no passage holds the kind of thing asked for
(a number for that year, a date, a document number), the answer says it was not found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from qa.index import Index
from qa.normalize import char_bigrams, normalize
from qa.question import QuestionIntent
from qa.retrieval import RetrievalResult
from qa.types import AnswerType, Citation
from qa.units import DATE, DOCNUM, ORG, Unit, bigram_idf, document_units

_DEFINES = re.compile(r"是指|指的是|即|是一种|是")


@dataclass(frozen=True)
class Extraction:
    """What the answerer found: the answer text, its type, its quoted spans and its evidence."""

    found: bool
    answer: str
    answer_type: AnswerType
    citations: tuple[Citation, ...]
    evidence: float  # coverage of the question's content by the chosen clause and its context


@dataclass(frozen=True)
class _Scored:
    unit: Unit
    coverage: float
    score: float


class Answerer:
    """Picks answer clauses from an index's documents; built once per loaded index."""

    def __init__(self, index: Index, refusal_threshold: float = 0.35, scope_passages: int = 5) -> None:
        self.index = index
        self.refusal_threshold = refusal_threshold
        self.scope_passages = scope_passages
        self.units = [u for doc in index.documents.values() for u in document_units(doc)]
        sentences = {(u.doc_id, u.sentence): index.documents[u.doc_id].text[u.sentence[0] : u.sentence[1]] for u in self.units}
        self.idf, self.unseen_idf = bigram_idf(sentences.values())
        self._grams = [self._context_grams(u) for u in self.units]
        self._by_section: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, u in enumerate(self.units):
            self._by_section[(u.doc_id, u.section)].append(i)

    def _context_grams(self, unit: Unit) -> dict[str, float]:
        """Bigrams around a clause, weighted by closeness: clause 1, sentence .7, heading and lead .5."""
        text = self.index.documents[unit.doc_id].text
        weights: dict[str, float] = {}
        for source, weight in (
            (unit.heading + unit.lead, 0.5),
            (text[unit.sentence[0] : unit.sentence[1]], 0.7),
            (unit.text, 1.0),
        ):
            for gram in char_bigrams(source):
                weights[gram] = max(weights.get(gram, 0.0), weight)
        return weights

    def _content(self, intent: QuestionIntent) -> list[str]:
        """The question's content bigrams, without those that only join two known words.

        "联合印发" gives 联合, 合印, 印发: 合印 occurs nowhere in the corpus only because it
        straddles two words that do, so it is no evidence of a topic the corpus lacks.
        """
        grams: list[str] = []
        for segment in intent.segments:
            if len(segment) < 2:
                continue
            seq = char_bigrams(segment)
            for i, gram in enumerate(seq):
                neighbours = seq[max(0, i - 1) : i] + seq[i + 1 : i + 2]
                if gram not in self.idf and neighbours and all(n in self.idf for n in neighbours):
                    continue
                grams.append(gram)
        return list(dict.fromkeys(grams))

    def _coverage(self, grams: Sequence[str], context: dict[str, float]) -> float:
        if not grams:
            return 1.0
        total = sum(self.idf.get(g, self.unseen_idf) for g in grams)
        hit = sum(self.idf.get(g, self.unseen_idf) * context.get(g, 0.0) for g in grams)
        return hit / total

    def _candidates(self, retrieval: RetrievalResult, intent: QuestionIntent) -> dict[int, float]:
        """Units in the sections of the top passages, with a prior from the passage rank.

        Questions for a date or a document number look through the whole of the retrieved
        documents: such facts sit in headers and sign-offs that rarely match question words.
        """
        prior: dict[int, float] = {}
        if intent.kind in ("when", "docnum"):
            docs = {p.chunk.doc_id for p in retrieval.passages[: self.scope_passages]}
            prior.update({i: 0.0 for i, u in enumerate(self.units) if u.doc_id in docs})
        for rank, passage in enumerate(retrieval.passages[: self.scope_passages], start=1):
            chunk = passage.chunk
            for i in self._by_section[(chunk.doc_id, chunk.section)]:
                u = self.units[i]
                inside = chunk.start <= u.start and u.end <= chunk.end
                value = (1.0 if inside else 0.5) / rank
                prior[i] = max(prior.get(i, 0.0), value)
        return prior

    def _shape_ok(self, unit: Unit, intent: QuestionIntent) -> bool:
        if intent.years and not set(intent.years) & set(unit.years):
            return False
        if intent.kind == "number":
            return unit.has_quantity
        if intent.kind == "when":
            return bool(DATE.search(unit.text))
        if intent.kind == "docnum":
            return bool(DOCNUM.search(unit.text))
        if intent.kind == "who":
            return bool(ORG.search(unit.text))
        return True

    def _shape_bonus(self, unit: Unit, intent: QuestionIntent) -> float:
        if intent.years and unit.lead_span[0] == unit.paragraph[0] and set(intent.years) & set(unit.years):
            if any(y in unit.lead for y in intent.years):
                return 0.2  # the clause sits in the paragraph that is about the year asked
        if intent.kind in ("list", "who") and (unit.is_list or unit.enum_item is not None):
            return 0.3
        if intent.kind == "definition" and unit.is_sentence_start and _DEFINES.search(unit.text):
            return 0.3
        return 0.0

    def extract(self, question: str, intent: QuestionIntent, retrieval: RetrievalResult) -> Extraction:
        grams = self._content(intent)
        scored: list[_Scored] = []
        for i, prior in self._candidates(retrieval, intent).items():
            unit = self.units[i]
            if unit.is_heading or not self._shape_ok(unit, intent):
                continue
            coverage = self._coverage(grams, self._grams[i])
            scored.append(_Scored(unit, coverage, coverage + 0.25 * prior + self._shape_bonus(unit, intent)))
        if not scored:
            return self._refusal(intent, 0.0)
        scored.sort(key=lambda s: (-s.score, s.unit.start))
        best = scored[0]
        if best.coverage < self.refusal_threshold:
            return self._refusal(intent, best.coverage)
        spans, answer_type, joiner = self._compose(best, scored, intent, grams)
        citations = tuple(self._cite(best.unit.doc_id, a, b, best.score, retrieval) for a, b in spans)
        answer = joiner.join(c.text for c in citations)
        return Extraction(True, answer, answer_type, citations, best.coverage)

    def _compose(
        self, best: _Scored, scored: list[_Scored], intent: QuestionIntent, grams: Sequence[str]
    ) -> tuple[list[tuple[int, int]], AnswerType, str]:
        unit = best.unit
        if intent.kind == "number":
            if intent.generic_target:
                chosen = sorted(
                    (s.unit for s in scored if s.unit.paragraph == unit.paragraph and s.unit.has_quantity),
                    key=lambda u: u.start,
                )
            else:
                chosen = [unit]
            spans = [(u.start, u.end) for u in chosen]
            if unit.lead_span[0] < spans[0][0] and not any(y in unit.text for y in unit.years):
                spans.insert(0, unit.lead_span)
            return spans, "number", "……"
        if intent.kind in ("list", "who"):
            group, whole_item = self._enum_group(unit, grams)
            if whole_item:
                return group, "list" if "、" in self.index.documents[unit.doc_id].text[group[0][0] : group[0][1]] else "text", ""
            if group:
                return group, "list", "；"
            if unit.is_list:
                siblings = [
                    s.unit
                    for s in scored
                    if s.unit.paragraph == unit.paragraph
                    and s.unit.is_list
                    and s.score >= 0.8 * best.score
                    and abs(s.unit.start - unit.start) < 200
                ]
                siblings = sorted({u.start: u for u in siblings + [unit]}.values(), key=lambda u: u.start)
                return [(u.start, u.end) for u in siblings], "list", "；"
        if intent.kind in ("when", "docnum", "who"):
            return [(unit.start, unit.end)], "text", ""
        return [unit.sentence], "text", ""

    def _text_coverage(self, grams: Sequence[str], text: str) -> float:
        return self._coverage(grams, dict.fromkeys(char_bigrams(text), 1.0))

    def _enum_group(self, unit: Unit, grams: Sequence[str]) -> tuple[list[tuple[int, int]], bool]:
        """Spans answering a list question from an enumeration (一是…二是…) near the best clause.

        Returns (spans, whole_item). A question naming one item ("建体系包括什么") gets that
        item's whole sentence; a question about the section as a whole ("重点任务有哪些")
        gets the head clause of every item; a question a single list clause answers better
        than the section does gets nothing here.
        """
        section_units = [self.units[i] for i in self._by_section[(unit.doc_id, unit.section)]]
        if unit.enum_group is not None:
            target = unit.enum_group
        else:
            after = [u.enum_group for u in section_units if u.enum_group is not None and u.start > unit.start]
            if not after:
                return [], False
            target = after[0]
        heads = sorted((u for u in section_units if u.enum_group == target and u.is_sentence_start), key=lambda u: u.start)
        head_cov = [self._text_coverage(grams, h.text) for h in heads]
        best_item = max(range(len(heads)), key=lambda i: head_cov[i])
        if grams and head_cov[best_item] >= 0.5:
            return [heads[best_item].sentence], True
        text = self.index.documents[unit.doc_id].text
        intro = unit.heading + "".join(text[u.sentence[0] : u.sentence[1]] for u in section_units if u.enum_group is None and not u.is_heading)
        if unit.is_list and self._text_coverage(grams, unit.text) >= self._text_coverage(grams, intro):
            return [], False
        return [(h.start, h.end) for h in heads], False

    def _refusal(self, intent: QuestionIntent, evidence: float) -> Extraction:
        if intent.kind == "number" and intent.years:
            message = f"未在文件中找到{'、'.join(intent.years)}年的相关数字。"
        elif intent.kind == "number":
            message = "未在文件中找到相关数字。"
        elif intent.kind == "when":
            message = "未在文件中找到相关日期。"
        else:
            message = "未在文件中找到这个问题的答案。"
        return Extraction(False, message, "none", (), evidence)

    def _cite(self, doc_id: str, start: int, end: int, score: float, retrieval: RetrievalResult) -> Citation:
        doc = self.index.documents[doc_id]
        containing = [p.chunk for p in retrieval.passages if p.chunk.doc_id == doc_id and p.chunk.start <= start and end <= p.chunk.end]
        if not containing:
            containing = [c for c in self.index.chunks if c.doc_id == doc_id and c.start <= start and end <= c.end]
        if containing:
            chunk = containing[0]
            section, p_start, p_end = chunk.section, chunk.start, chunk.end
        else:
            unit = next(u for u in self.units if u.doc_id == doc_id and u.start <= start < u.end or u.lead_span == (start, end))
            section, (p_start, p_end) = unit.section, unit.paragraph
        return Citation(doc_id, doc.title, section, doc.text[start:end], start, end, round(score, 4), p_start, p_end)


def answer_matches(answer: str, expected: str) -> bool:
    """Whether an expected fact appears in an answer text, ignoring width, script and spaces."""
    return normalize(expected) in normalize(answer)
