"""Extractive answers: choose the clauses that answer a question from the retrieved passages.

Nothing is generated. Each answer is one or more exact spans of a document, each with a
citation; when the evidence is too weak, or no passage holds the kind of thing asked for
(a number for that year, in that measure, a date, a document number), the answer says it
was not found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.answer.question import QuestionIntent
from qa.answer.units import (
    DATE,
    DOCNUM,
    ORG_MENTION,
    ORG_NAME,
    YEAR_ONLY,
    Unit,
    bigram_idf,
    document_units,
    iso_date,
    strip_titles,
)
from qa.retrieve.index import Index
from qa.retrieve.retrieval import RetrievalResult
from qa.text.normalize import char_bigrams, normalize
from qa.types import AnswerType, Chunk, Citation

_DEFINES = re.compile(r"是指|指的是|即|是一种")
_CONTINUES = re.compile(r"^(?:其中|具体|包括|主要包括|分别)")
# Bigrams in more sentences than this IDF says are the corpus's topic words ("新产业", "标准"),
# which name no particular fact.
_TOPIC_IDF = 2.0
_FOCUS_MISS = 0.6
# "提出五个方面的保障措施": a sentence announcing a counted enumeration.
_COUNTED = re.compile(r"[一二三四五六七八九十\d]+(?:项|个方面|个|大|类|条|方面)")
# Where each context of a clause counts towards covering the question's words.
_WEIGHTS = {"clause": 1.0, "sentence": 0.7, "heading": 0.5, "paragraph": 0.4, "title": 0.3}
# Answer kinds whose shape (a date, a document number) is itself most of the evidence:
# their questions name the field ("落款日期", "文号"), rarely words of the answer.
_SHAPE_KINDS = ("when", "docnum")
Span = tuple[int, int]


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
    index: int
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
        sentences = {(u.doc_id, u.sentence): self._text(u.doc_id, u.sentence) for u in self.units}
        self.idf, self.unseen_idf = bigram_idf(sentences.values())
        self._grams = [self._context_grams(u) for u in self.units]
        self._role_dates = {
            d.doc_id: {"published": iso_date(d.date_published), "signed": iso_date(d.date_signed)}
            for d in index.documents.values()
        }
        self._by_section: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._sentences_of: dict[tuple[str, Span], list[Span]] = defaultdict(list)  # by (doc, paragraph)
        self._chunks_of: dict[str, list[Chunk]] = defaultdict(list)
        for i, u in enumerate(self.units):
            self._by_section[(u.doc_id, u.section)].append(i)
            sentences_here = self._sentences_of[(u.doc_id, u.paragraph)]
            if not sentences_here or sentences_here[-1] != u.sentence:
                sentences_here.append(u.sentence)
        for chunk in index.chunks:
            self._chunks_of[chunk.doc_id].append(chunk)
        self._sign_offs = {doc_id: self._find_sign_off(doc_id) for doc_id in index.documents}

    def _text(self, doc_id: str, span: Span) -> str:
        return self.index.documents[doc_id].text[span[0] : span[1]]

    def _context_grams(self, unit: Unit) -> dict[str, float]:
        """Bigrams around a clause, weighted by closeness (see _WEIGHTS)."""
        sources = {
            "title": self.index.documents[unit.doc_id].title,
            "paragraph": self._text(unit.doc_id, unit.paragraph),
            "heading": unit.section.split(" › ")[0] + unit.heading + unit.lead,
            "sentence": self._text(unit.doc_id, unit.sentence),
            "clause": unit.text,
        }
        weights: dict[str, float] = {}
        for name, source in sources.items():
            for gram in char_bigrams(source):
                weights[gram] = max(weights.get(gram, 0.0), _WEIGHTS[name])
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
        """IDF-weighted share of the question's bigrams found in a context."""
        if not grams:
            return 1.0
        total = sum(self.idf.get(g, self.unseen_idf) for g in grams)
        hit = sum(self.idf.get(g, self.unseen_idf) * context.get(g, 0.0) for g in grams)
        return hit / total

    def _text_coverage(self, grams: Sequence[str], text: str) -> float:
        return self._coverage(grams, dict.fromkeys(char_bigrams(text), 1.0))

    def _candidates(self, retrieval: RetrievalResult, intent: QuestionIntent) -> dict[int, float]:
        """Units in the sections of the top passages, with a prior from the passage rank.

        Questions for a date or a document number look through the whole of the retrieved
        documents: such facts sit in headers and sign-offs that rarely match question words.
        """
        prior: dict[int, float] = {}
        if intent.kind in _SHAPE_KINDS:
            docs = {p.chunk.doc_id for p in retrieval.passages[: self.scope_passages]}
            prior.update({i: 0.0 for i, u in enumerate(self.units) if u.doc_id in docs})
        for rank, passage in enumerate(retrieval.passages[: self.scope_passages], start=1):
            chunk = passage.chunk
            for i in self._by_section[(chunk.doc_id, chunk.section)]:
                u = self.units[i]
                inside = chunk.start <= u.start and u.end <= chunk.end
                prior[i] = max(prior.get(i, 0.0), (1.0 if inside else 0.5) / rank)
        return prior

    def _shape_ok(self, unit: Unit, intent: QuestionIntent) -> bool:
        """Whether a clause can hold the kind of answer asked for."""
        if unit.is_heading or (unit.is_part_title and not intent.asks_title):
            return False
        if intent.years and not set(intent.years) & set(unit.years):
            return False
        if intent.present and unit.years:
            return False  # a target for a future year does not say what is the case now
        if intent.kind == "number":
            units = unit.quantity_units
            if intent.unit and intent.unit != "个":
                return intent.unit in units or (intent.unit == "元" and bool(units & {"亿", "万"}))
            return bool(units)
        if intent.kind == "when":
            return bool(DATE.search(unit.text) or YEAR_ONLY.search(strip_titles(unit.text)))
        if intent.kind == "docnum":
            return bool(DOCNUM.search(unit.text))
        if intent.kind == "who":
            return bool(ORG_MENTION.search(unit.text))
        return True

    def _shape_bonus(self, unit: Unit, intent: QuestionIntent) -> float:
        """How much better than its word overlap a clause's shape fits the question (a factor)."""
        bonus = 0.0
        if intent.years and any(y in unit.lead for y in intent.years) and unit.lead_span[0] == unit.paragraph[0]:
            bonus += 0.3  # the clause sits in the paragraph about the year asked
        if intent.kind == "list" and (unit.is_list or unit.enum_item is not None):
            bonus += 0.15
        elif intent.kind == "who":
            bonus += min(0.4, 0.1 * unit.org_count)
        elif intent.kind == "definition" and unit.is_sentence_start and _DEFINES.search(unit.text):
            # "X是指……" opening with the very term asked about is the definition itself.
            term_first = any(len(seg) >= 2 and normalize(unit.text).startswith(seg) for seg in intent.segments)
            bonus += 0.8 if term_first else 0.4
        elif intent.kind == "when":
            full = DATE.search(unit.text)
            if full:
                bonus += 0.5
                if intent.date_role and iso_date(full.group()) == self._role_dates[unit.doc_id].get(intent.date_role):
                    bonus += 0.5  # the document's metadata says which date this one is
        return bonus

    def _is_purpose(self, unit: Unit) -> bool:
        sentence = self._text(unit.doc_id, unit.sentence)
        # "为贯彻落实……" states a purpose; "为此," ("therefore") does not.
        return sentence.startswith(("为", "为了")) and not sentence.startswith("为此") and not unit.is_heading

    def _names_other_document(self, unit: Unit) -> bool:
        """Whether a clause cites a document 《…》 other than its own (not a self-reference)."""
        own = self.index.documents[unit.doc_id].title
        return any(name not in own for name in re.findall(r"《([^》]+)》", unit.text))

    def _score(self, retrieval: RetrievalResult, intent: QuestionIntent, grams: Sequence[str]) -> list[_Scored]:
        """Candidate clauses of the right shape, best first.

        Word coverage is the evidence; the shape bonus scales it (a list clause that covers
        nothing stays at nothing) and the passage rank breaks near-ties.
        """
        scored = []
        focus = [g for f in intent.focus for g in char_bigrams(f)]
        for i, prior in self._candidates(retrieval, intent).items():
            unit = self.units[i]
            if self._shape_ok(unit, intent):
                coverage = self._coverage(grams, self._grams[i])
                weight = max(coverage, 0.2 if not grams else 0.0)
                score = weight * (1.0 + self._shape_bonus(unit, intent)) + 0.25 * prior
                candidate = _Scored(i, unit, coverage, score)
                if not self._focus_ok(focus, candidate):
                    candidate = _Scored(i, unit, coverage, score * _FOCUS_MISS)
                scored.append(candidate)
        # Shapes that, when any candidate has them, the answer must have: "依据哪个文件" names
        # a document 《…》; "为了什么" is answered by a purpose sentence "为……".
        if intent.asks_document_name and any(self._names_other_document(s.unit) for s in scored):
            scored = [s for s in scored if self._names_other_document(s.unit)]
        purposes = [s for s in scored if self._is_purpose(s.unit)]
        # "为什么" may also mean "for what" ("为什么提供支撑"): prefer purpose sentences only
        # when they speak of the question about as well as the best clause does.
        if intent.asks_purpose and purposes and max(p.coverage for p in purposes) >= 0.5 * max(s.coverage for s in scored):
            scored = purposes
        scored.sort(key=lambda s: (-s.score, s.unit.start))
        return scored

    @staticmethod
    def _leads_with_year(unit: Unit, intent: QuestionIntent) -> bool:
        return unit.lead_span[0] == unit.paragraph[0] and any(y in unit.lead for y in intent.years)

    def _is_generic(self, intent: QuestionIntent, grams: Sequence[str]) -> bool:
        """A question about a year that names nothing more specific than the corpus's topic words."""
        if not intent.years:
            return False
        return intent.generic_target or all(self.idf.get(g, 99.0) < _TOPIC_IDF for g in grams)

    def _focus_ok(self, focus: Sequence[str], candidate: _Scored) -> bool:
        """Whether a clause's paragraph speaks of what the question asks about (its focus bigrams)."""
        return not focus or any(self._grams[candidate.index].get(g, 0.0) >= _WEIGHTS["paragraph"] for g in focus)

    def _subject_ok(self, intent: QuestionIntent, best: _Scored) -> bool:
        """Whether a number's paragraph speaks of the question's most specific term.

        "元宇宙领域要制定多少项标准": the 2025 paragraph has numbers of standards, but none about
        元宇宙. The term is the question's rarest known bigram run (IDF), sought in the paragraph.
        """
        known = [g for g in self._content(intent) if g in self.idf]
        if not known:
            return True
        rarest = max(known, key=lambda g: self.idf[g])
        return self._grams[best.index].get(rarest, 0.0) >= _WEIGHTS["paragraph"]

    def extract(self, intent: QuestionIntent, retrieval: RetrievalResult) -> Extraction:
        """The answer to a question from its retrieved passages, or a plain refusal."""
        grams = self._content(intent)
        if not grams and not intent.years and intent.kind not in (*_SHAPE_KINDS, "who"):
            return self._refusal(intent, 0.0)  # "有哪些？": nothing asked about
        generic = self._is_generic(intent, grams)
        if generic and not intent.generic_target:
            intent = replace(intent, generic_target=True)
        scored = self._score(retrieval, intent, grams)
        if intent.kind == "number" and intent.years and not intent.asks_quantity:
            # "方案对2035年提出的目标是什么" names a year's targets, not a quantity: it is answered
            # by that year's paragraph, whose targets need not be numbers.
            generic, intent = True, replace(intent, generic_target=True)
        if generic:
            # "2035年的目标是什么" is answered by the paragraph that opens "到2035年", not by a
            # sentence elsewhere that merely names the year; that year's targets may also be
            # qualitative, with no number at all.
            scored = [s for s in scored if self._leads_with_year(s.unit, intent)]
            if not scored and intent.kind == "number":
                intent = replace(intent, kind="text", unit=None)
                scored = [s for s in self._score(retrieval, intent, grams) if self._leads_with_year(s.unit, intent)]
        if not scored:
            return self._refusal(intent, 0.0)
        best = scored[0]
        threshold = self.refusal_threshold
        if generic:
            threshold *= 0.25  # the year and the shape are the evidence; the words are generic
        elif intent.years and self._leads_with_year(best.unit, intent):
            threshold *= 0.6  # the clause is in the very paragraph about the year asked
        elif intent.kind in _SHAPE_KINDS:
            threshold *= 0.5
        # An answer whose paragraph never mentions what the question asks about ("提交哪些材料",
        # "部长是谁") is weaker evidence than its word overlap alone suggests.
        focus = [g for f in intent.focus for g in char_bigrams(f)]
        evidence = best.coverage * (1.0 if self._focus_ok(focus, best) else _FOCUS_MISS)
        if intent.kind == "number" and not self._subject_ok(intent, best):
            evidence *= _FOCUS_MISS
        if evidence < threshold:
            return self._refusal(intent, evidence)
        spans, answer_type, joiner = self._compose(best, scored, intent, grams)
        if self._needs_year_lead(intent, best.unit, spans[0]):
            spans.insert(0, best.unit.lead_span)  # the year the answer belongs to
            joiner = joiner or "……"
        citations = tuple(self._cite(best.unit.doc_id, a, b, best.score, retrieval) for a, b in spans)
        answer = joiner.join(c.text for c in citations)
        return Extraction(True, answer, answer_type, citations, evidence)

    def _needs_year_lead(self, intent: QuestionIntent, unit: Unit, first: Span) -> bool:
        """Whether an answer about a year must quote the paragraph lead that names the year."""
        if not intent.years or not first[0] > unit.lead_span[0] >= unit.paragraph[0]:
            return False
        names_year = any(y in self._text(unit.doc_id, first) for y in intent.years)
        return not names_year and any(y in unit.lead for y in intent.years)

    def _compose(
        self, best: _Scored, scored: list[_Scored], intent: QuestionIntent, grams: Sequence[str]
    ) -> tuple[list[Span], AnswerType, str]:
        """The spans that make the answer, its type, and how its quotes are joined."""
        unit = best.unit
        if intent.kind == "number":
            if intent.generic_target:
                chosen = sorted(
                    {s.unit.start: s.unit for s in scored if s.unit.paragraph == unit.paragraph}.values(), key=lambda u: u.start
                )
            else:
                chosen = [unit]
            spans = [(u.start, u.end) for u in chosen]
            if unit.lead_span[0] < spans[0][0] and not any(y in unit.text for y in unit.years):
                spans.insert(0, unit.lead_span)  # the year the number belongs to
            return spans, "number", "……"
        if intent.kind == "who" and intent.date_role:
            # "哪些部门印发的": the document's sign-off, the issuers' names one a line (落款).
            block = self._sign_off(unit.doc_id)
            if block:
                return block, "list", "、"
        if intent.asks_membership:
            # "X属于哪一项任务": the item (一是……) or sentence that holds X, with its head; one
            # for each thing asked about ("新型储能和新能源分别…").
            spans = [self._with_elaboration(unit)]
            for segment in intent.segments:
                if len(segment) < 2 or any(segment in normalize(self._text(unit.doc_id, sp)) for sp in spans):
                    continue
                holder = next((s.unit for s in scored if segment in normalize(s.unit.text)), None)
                if holder is not None:
                    spans.append(self._with_elaboration(holder))
            return sorted(set(spans)), "text", "……"
        if intent.kind not in _SHAPE_KINDS:
            # A keyword query landing on "提出五个方面的保障措施" wants the five, not the sentence.
            wants_list = intent.kind in ("list", "who") or (intent.keyword_only and bool(_COUNTED.search(unit.text)))
            item, whole_group = self._enumeration(unit, grams, wants_list)
            if item and whole_group and intent.asks_quantity:
                count = self._count_clause(unit, item[0][0])
                if count:
                    return [count, *item], "list", "："  # "几项？各是什么？": how many, then which
            if item:
                return item, "list", "；" if whole_group else ""
        if intent.kind in ("list", "who") and unit.is_list:
            siblings = [
                s.unit for s in scored if s.unit.paragraph == unit.paragraph and s.unit.is_list and s.score >= 0.8 * best.score
            ]
            ordered = sorted({u.start: u for u in [*siblings, unit]}.values(), key=lambda u: u.start)
            return [(u.start, u.end) for u in ordered], "list", "；"
        if intent.kind in _SHAPE_KINDS or intent.kind == "who":
            return [(unit.start, unit.end)], "text", ""
        if intent.years and intent.generic_target and any(y in unit.lead for y in intent.years):
            return [unit.paragraph], "text", ""  # a year's qualitative targets: the whole paragraph
        return [self._with_elaboration(unit)], "list" if intent.kind == "list" else "text", ""

    def _sign_off(self, doc_id: str) -> list[Span]:
        return self._sign_offs.get(doc_id, [])

    def _find_sign_off(self, doc_id: str) -> list[Span]:
        """The longest run of consecutive one-line paragraphs that are each an organisation's name."""
        runs: list[list[Span]] = [[]]
        for u in self.units:
            if u.doc_id != doc_id or not u.is_sentence_start:
                continue
            whole = u.paragraph == (u.start, u.end) and len(u.text) <= 20 and ORG_NAME.fullmatch(u.text)
            if whole:
                runs[-1].append(u.paragraph)
            elif runs[-1]:
                runs.append([])
        best = max(runs, key=len)
        return best if len(best) >= 2 else []

    def _with_elaboration(self, unit: Unit) -> Span:
        """A clause's sentence, extended over the sentences that go on with it.

        "…形成“8+9”的重点领域。其中,新兴产业…;未来产业…。": a sentence followed by one
        opening with 其中/具体/包括, or ending in a semicolon, is not complete by itself.
        """
        start, end = unit.sentence
        text = self.index.documents[unit.doc_id].text
        following = [sp for sp in self._sentences_of[(unit.doc_id, unit.paragraph)] if sp[0] >= end]
        for s_start, s_end in following:
            if text[end - 1] in "；;" or _CONTINUES.match(text[s_start:s_end]):
                end = s_end
            else:
                break
        return start, end

    def _count_clause(self, unit: Unit, before: int) -> Span | None:
        """The clause announcing an enumeration's count ("分解设置了五项主要任务"), before it in its section."""
        counts = [
            u
            for i in self._by_section[(unit.doc_id, unit.section)]
            if (u := self.units[i]).start < before and u.enum_group is None and not u.is_heading and _COUNTED.search(u.text)
        ]
        return (counts[-1].start, counts[-1].end) if counts else None

    def _enumeration(self, unit: Unit, grams: Sequence[str], wants_list: bool) -> tuple[list[Span], bool]:
        """Spans from an enumeration (一是…二是…) in the best clause's section, if it answers better.

        A question naming one item ("建体系包括什么") gets that item's whole sentence. A list
        question about the section as a whole ("重点任务有哪些") gets every item's head
        clause. Returns (spans, whether they are the whole group); no spans when a single
        clause answers better.
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
        if not grams or len(heads) < 2:
            return [], False
        intro = unit.heading + "".join(
            self._text(u.doc_id, u.sentence) for u in section_units if u.enum_group is None and not u.is_heading
        )
        # An item is asked about when the question says something its section's heading and
        # introduction do not, and one item's text says it far better than any other:
        # "建体系包括什么", "人才方面有什么措施". "重点任务有哪些" says nothing beyond its heading.
        introduced = set(char_bigrams(intro))
        residual = [g for g in grams if g not in introduced]
        if residual:
            item_cov = sorted(
                ((self._text_coverage(residual, self._text(h.doc_id, h.sentence)), n) for n, h in enumerate(heads)), reverse=True
            )
            (top, n), (second, _) = item_cov[0], item_cov[1]
            if top >= 0.5 and top >= 2 * second:
                return [heads[n].sentence], False
        if not wants_list:
            return [], False
        if unit.is_list and self._text_coverage(grams, unit.text) >= self._text_coverage(grams, intro):
            return [], False
        return [(h.start, h.end) for h in heads], True

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
        """A citation for a span, inside the retrieved (or else any) chunk that holds it."""
        doc = self.index.documents[doc_id]
        holders = [
            p.chunk for p in retrieval.passages if p.chunk.doc_id == doc_id and p.chunk.start <= start and end <= p.chunk.end
        ]
        holders = holders or [c for c in self._chunks_of[doc_id] if c.start <= start and end <= c.end]
        if holders:
            section, p_start, p_end = holders[0].section, holders[0].start, holders[0].end
        else:  # a span longer than any chunk (a whole paragraph): the paragraph is its passage
            unit = next(u for u in self.units if u.doc_id == doc_id and u.paragraph[0] <= start < u.paragraph[1])
            section, (p_start, p_end) = unit.section, (min(start, unit.paragraph[0]), max(end, unit.paragraph[1]))
        return Citation(doc_id, doc.title, section, doc.text[start:end], start, end, round(score, 4), p_start, p_end)
