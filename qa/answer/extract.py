"""Extractive answers: choose the sentence that answers a question, and quote its answer span.

Nothing is generated. Candidates are the sentences of the retrieved passages' lines (and,
for a document-level field such as 文号 or a date, every sentence of the retrieved
documents that holds one). Each gets a feature vector (qa/answer/scoring.py) and a
probability from the fitted weights; the best is composed into a short answer of the kind
asked for: the typed fact's clause with the year that governs it, every item of a list,
the sentence that defines. Below the fitted threshold the answer is a plain refusal. Every
quoted span carries its own document, so a citation always quotes the text it points at.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

import numpy as np

from qa.answer.question import TYPED_KINDS, QuestionIntent, asks_who, quoted_terms, tokens
from qa.answer.scoring import FEATURES, Weights
from qa.errors import IndexCorruptError
from qa.retrieve.index import Index
from qa.retrieve.retrieval import RetrievalResult
from qa.text.dictionary import pos_tokens
from qa.text.grammar import ORG, Fact, find_facts, has_numeral, iso_date, list_items, numbers_in, years_in
from qa.text.normalize import char_bigrams, normalize
from qa.text.outline import FIELD_LABEL, GENRE_WORDS, PAREN_NUMERALS
from qa.text.sentences import DocumentSentences, Sentence, document_sentences, sentence_idf
from qa.types import AnswerType, Chunk, Citation, Document

_CONTINUES = re.compile(r"^(?:其中|具体|包括|主要包括|分别|即)")
_MARKER = re.compile(rf"^(?:[(（][一二三四五六七八九十\d]+[)）]|{PAREN_NUMERALS}|[一二三四五六七八九十]+、|\d{{1,2}}[.、．])\s*")
_ITEM_HEADING = 16  # an item's opening sentence this short (marker aside) is its heading
_INTRODUCED_LINE = 400  # characters: a paragraph a colon introduces is quoted with it up to this length
_DEFINES = re.compile(r"是指|指的是|^指|即|是一种|所称")
_PURPOSE = re.compile(r"^(?:为了|为)(?!此)")
# Time words that answer "什么时候" without a calendar date.
# （不含……）, （上述费用不含……）, 除……外
_EXCLUSION = re.compile(r"[(（][^()（）]{0,8}?(?:不含|不包括|除)[^()（）]*[)）]|[(（][^()（）]{1,30}除外[)）]|除[^，。；]{2,40}?(?:以外|之外|外)")
_CITED_BEFORE = re.compile(r"《([^》]+)》\s*[（(]?\s*$")  # a title right before a number: "《……意见》（国办发〔2023〕19号）"
_COMMENCES = re.compile("施行|生效|起[^，,。；;]{0,8}?(?:执行|实施)(?!方案|意见|细则|办法)|开始(?:执行|实施)")  # a commencement clause: 本办法自…起施行, 自3月1日起按新标准执行
_NOTE_LINE = re.compile(r"[（(][^（()）]*[)）]")  # a line in brackets under a title: when it was adopted, revised
# When something happens, said without a calendar date: at once, by a time, or relative to an event
# ("合同期满前3个月", "收到通知后15个工作日内").
_DAY_ASKED = re.compile("几号|几月几[日号]|哪一?天|哪日|哪几天")
_DAY = re.compile(r"[日号]|\d{1,2}\s*[:：]\s*\d{2}|[时点]|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_DAY_WORD = re.compile(
    r"当日|当天|次日|之日|月底|月末|日前|[前后内]\s*(?:\d+|[一二两三四五六七八九十]+)\s*个?(?:工作日|日|天)"
    r"|(?:\d+|[一二两三四五六七八九十]+)\s*个?(?:工作日|日|天)(?:内|以内|之内)"
)
_TIME_WORD = re.compile(
    r"当日|当天|次日|次月|次年|当月|下月|即时|立即|之日起|月底|年底|月末|年末|日前|以前|前完成"
    r"|[前后]\s*(?:\d+|[一二两三四五六七八九十]+)\s*个?(?:工作日|小时|日|天|周|月|年)"
    r"|(?:\d+|[一二两三四五六七八九十]+)\s*个?(?:工作日|小时|日|天|周|月)(?:内|以内|之内)"
)
_GENERIC_MEASURES = ("个", "元", "%", "天", "日", "年", "月")  # measures a text may give in another form
_LONG_SENTENCE = 120  # characters: a text answer from a longer sentence quotes its best clause
_SHORT_CLAUSE = 12  # a clause this short is a label: the next clause goes with it
_SHORT_SENTENCE = 100  # characters: a typed answer quotes a sentence this short whole
_ITEMS_BELOW = 30  # sentences: how far the items a colon introduces are read as its context
_AGES = ("岁", "周岁")
_ITEMS_SHOWN = 8  # sentences: how many of the items a colon introduces are quoted after it
_ADDRESSEE_LINES = 60  # outline lines from the top in which an addressee line is looked for
_LABEL_CHARS = 10  # a line ending in a colon this short is a page's label, not an addressee line
_ASKS_ADDRESSEE = re.compile("主送|(?:发给|发送给|下发给|印发给|收文单位|收文机关)(?:是|有|包括)?(?:哪|谁|什么)")
# "为了贯彻落实哪个文件", "依据什么法律": a document is asked for, and its name is quoted in 《》.
_ASKS_DOCUMENT = re.compile("(?:哪|什么)(?:一|几)?[个份部些项]?(?:文件|纲要|法律|法规|规章|条例|办法|规划|政策文件|通知|意见|决定)(?![号编字])")
_LEAD_YEAR = re.compile(r"^\s*(?:到|至|截至|截止到?|在|从|自)?\s*(?:19|20)\d{2}\s*年")
_ASKS_WHETHER = re.compile("吗|是否|有没有|是不是")
_NEGATORS = ("不", "未", "非", "无", "没", "不再")  # before a phrase: "不符合条件的", "未参保的"  # "兵团也在主送范围内吗": whether X is in a list
# "提出五个方面的保障措施": a sentence announcing a counted enumeration.
_COUNTED = re.compile(r"[一二三四五六七八九十\d]+(?:项|个方面|个|大|类|条|方面)")
Span = tuple[str, int, int]  # (doc_id, start, end)
_F = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Extraction:
    """What the answerer found: the answer text, its type, its quoted spans and its evidence."""

    found: bool
    answer: str
    answer_type: AnswerType
    citations: tuple[Citation, ...]
    evidence: float  # the fitted probability that the chosen sentence answers the question
    doc_id: str = ""  # the document the answer comes from
    also_in: tuple[str, ...] = ()  # other documents that also speak to the question


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    passage_rr: float


class Answerer:
    """Scores candidate sentences of an index's documents; built once per loaded index."""

    def __init__(
        self,
        index: Index,
        weights: Weights,
        scope_passages: int = 5,
        docs: Mapping[str, DocumentSentences] | None = None,
        idf: dict[str, float] | None = None,
    ) -> None:
        """`docs` and `idf`, when given, are the sentence tables and IDF saved with the index (else computed here).

        Saved tables may be read only when first needed: nothing here goes through all of them.
        """
        self.index = index
        self.weights = weights
        self.scope_passages = scope_passages
        self.docs: Mapping[str, DocumentSentences] = (
            docs if docs is not None else {d.doc_id: document_sentences(d) for d in index.documents.values()}
        )
        # Each document's first row in the sentence vectors (documents in order); the index
        # knows how many sentences each has, so no table is read for it.
        counts = {e.doc_id: e.sentences for e in index.embedded}
        self._first_row: dict[str, int] = {}
        rows = 0
        for doc_id in index.documents:
            self._first_row[doc_id] = rows
            rows += counts[doc_id] if doc_id in counts else len(self.docs[doc_id].sentences)
        vectors = index.sentence_vectors
        if vectors is not None and len(vectors) != rows:
            raise IndexCorruptError("索引中的句向量与文档不一致；请运行 `qa build` 重建索引")
        self.vectors = vectors
        n = max(1, rows)
        self.idf = idf if idf is not None else sentence_idf(self.docs.values())
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._path_grams: dict[tuple[str, ...], frozenset[str]] = {}
        self._characters: frozenset[str] | None = None
        self._addressees: dict[str, frozenset[int]] = {}
        self._chunks_of: dict[str, list[Chunk]] = {}
        for chunk in index.chunks:
            self._chunks_of.setdefault(chunk.doc_id, []).append(chunk)

    # ------------------------------------------------------------------ evidence

    def content_grams(self, intent: QuestionIntent) -> list[str]:
        """The question's content bigrams, without those that only join two known words.

        A lone character ("挂出来" leaves 来, "一起发的" leaves 发) is no bigram: no sentence's
        bigrams could hold it, and it would count as content the library never uses.
        """
        grams: list[str] = []
        for segment in intent.segments:
            seq = [g for g in char_bigrams(segment) if len(g) > 1 or g.isascii()]
            for i, gram in enumerate(seq):
                neighbours = seq[max(0, i - 1) : i] + seq[i + 1 : i + 2]
                if gram not in self.idf and neighbours and all(n in self.idf for n in neighbours):
                    continue
                grams.append(gram)
        return list(dict.fromkeys(grams))

    def unknown_characters(self, intent: QuestionIntent) -> set[str]:
        """The Chinese characters of a question's content that no sentence of the library uses."""
        if self._characters is None:
            self._characters = frozenset(ch for gram in self.idf for ch in gram)
        return {ch for seg in intent.segments for ch in seg if "\u4e00" <= ch <= "\u9fff"} - self._characters

    def _coverage(self, grams: Sequence[str], present: Collection[str]) -> float:
        if not grams:
            return 0.0
        total = sum(self.idf.get(g, self.unseen_idf) for g in grams)
        return sum(self.idf.get(g, self.unseen_idf) for g in grams if g in present) / total

    def _path_bigrams(self, path: tuple[str, ...]) -> frozenset[str]:
        grams = self._path_grams.get(path)
        if grams is None:
            grams = self._path_grams[path] = frozenset(char_bigrams(" ".join(path)))
        return grams

    def _text(self, doc_id: str, start: int, end: int) -> str:
        return self.index.documents[doc_id].text[start:end]

    @staticmethod
    def _line_items(doc: DocumentSentences, s: Sentence) -> list[Sentence]:
        """The sentences of the numbered items that the line of `s` introduces, when it ends in a colon.

        "第十七条 有下列行为之一的，由公安机关处……罚款；……：（一）冒用他人居民身份证……" states the
        penalty once for every item below it.
        """
        last = s.index  # the line's last sentence introduces the items, its earlier ones share them
        while last + 1 < len(doc.sentences) and doc.sentences[last + 1].line == s.line:
            last += 1
        if not doc.sentences[last].text.rstrip().endswith(("：", ":")):
            return []
        items = []
        for t in doc.sentences[last + 1 : last + 1 + _ITEMS_BELOW]:
            if t.is_line_start and (t.group is None or t.group[0].startswith("article")):
                break
            items.append(t)
        return items

    def _items_below(self, doc: DocumentSentences, s: Sentence) -> frozenset[str]:
        """The bigrams of the items the line of `s` introduces: its context for a typed question.

        Only for a typed question: the line states the fact (a fine, a deadline) for every item,
        while for any other question the item that says it answers better.
        """
        return frozenset().union(*(t.bigrams for t in self._line_items(doc, s)))

    def _item_asked(self, doc: DocumentSentences, s: Sentence, intent: QuestionIntent) -> Sentence | None:
        """The item below the line of `s` that the question is about, when it says more of the question than `s`."""
        grams = self.content_grams(intent)
        scored = sorted(((self._coverage(grams, t.bigrams), t.index) for t in self._line_items(doc, s)), reverse=True)
        if not scored or scored[0][0] <= self._coverage(grams, s.bigrams) or (len(scored) > 1 and scored[0][0] == scored[1][0]):
            return None
        return doc.sentences[scored[0][1]]

    def _introducing_line(self, doc: DocumentSentences, s: Sentence) -> list[Sentence]:
        """The sentences of the line ending in a colon that introduces the numbered item `s` is in, or the
        labelled line (鼓楼区：……；马尾区：……) it is one of, if any."""
        labelled = s.group is None and s.is_line_start and bool(FIELD_LABEL.match(s.text.lstrip()))
        if not labelled and (s.group is None or s.group[0].startswith("article")):
            return []
        for t in reversed(doc.sentences[max(0, s.index - _ITEMS_BELOW) : s.index]):
            if not t.is_line_start:
                continue
            if labelled:
                before_run = t.group is not None or not FIELD_LABEL.match(t.text.lstrip())
            else:
                before_run = t.group is None or t.group[0].startswith("article")
            if before_run:
                line = [u for u in doc.sentences[t.index : s.index] if u.line == t.line]
                return line if line[-1].text.rstrip().endswith(("：", ":")) else []
        return []

    def _addressee_line(self, doc_id: str) -> frozenset[int]:
        """The sentences of a document's addressee line (主送机关), the bodies it is sent to, before its body.

        "各省、自治区、直辖市……工业和信息化主管部门、……标准化专业机构：" names who receives the
        document: the answer to 主送哪些单位, and never to who does or decides anything.
        """
        found = self._addressees.get(doc_id)
        if found is None:
            found = frozenset()
            doc = self.docs[doc_id]
            for n, line in enumerate(doc.lines[:_ADDRESSEE_LINES]):
                text = doc.doc.text[line.start : line.end].strip()
                if line.is_heading or not text.endswith(("：", ":")) or len(text) <= _LABEL_CHARS:  # "来源：", "当前位置："
                    if len(text) > 60 and text.endswith("。"):
                        break  # the body has begun
                    continue
                bodies = [part for part in re.split("[、，,；;]", text.rstrip("：:")) if part]
                if not re.search("如下|下列|以下|包括", text) and (len(ORG.findall(text)) >= 2 or (text.startswith("各") and len(bodies) >= 2)):
                    found = frozenset(t.index for t in doc.sentences if t.line == n)
                break
            self._addressees[doc_id] = found
        return found

    # ------------------------------------------------------------------ candidates

    def candidates(self, intent: QuestionIntent, retrieval: RetrievalResult) -> list[Candidate]:
        """Sentences of the lines the top passages touch; for a document field, every sentence of those documents that holds one."""
        found: dict[tuple[str, int], float] = {}
        passages = retrieval.passages[: self.scope_passages]
        for rank, passage in enumerate(passages, start=1):
            chunk = passage.chunk
            for s in self.docs[chunk.doc_id].on_lines_touching(chunk.start, chunk.end):
                inside = chunk.start <= s.start and s.end <= chunk.end
                key = (s.doc_id, s.index)
                found[key] = max(found.get(key, 0.0), (1.0 if inside else 0.5) / rank)
        if intent.kind in TYPED_KINDS:
            # "冒用他人居民身份证的，罚款多少": the fine is stated once, by the line introducing the items.
            for (doc_id, i), rr in list(found.items()):
                for t in self._introducing_line(self.docs[doc_id], self.docs[doc_id].sentences[i]):
                    found.setdefault((doc_id, t.index), rr / 2)
        if _ASKS_ADDRESSEE.search(intent.norm):
            for doc_id in dict.fromkeys(p.chunk.doc_id for p in passages):
                for i in self._addressee_line(doc_id):
                    found.setdefault((doc_id, i), 0.0)
        if intent.kind in ("docnum", "date", "who", "year"):
            for doc_id in dict.fromkeys(p.chunk.doc_id for p in passages):
                for s in self.docs[doc_id].sentences:
                    if self._type_match(s, intent) and (s.doc_id, s.index) not in found:
                        found[(s.doc_id, s.index)] = 0.0
        return [Candidate(self.docs[d].sentences[i], rr) for (d, i), rr in found.items()]

    @staticmethod
    def _new_facts(s: Sentence, intent: QuestionIntent) -> Sentence:
        """The sentence with only the facts the question does not state itself.

        "年满十六周岁后应当在多长时间内申请" is not answered by a sentence whose only duration is
        十六周岁: the question gave it.
        """
        stated = _stated_amounts(intent.norm)

        def given(f: Fact) -> bool:
            if f.kind == "year":
                return f.text[:4] in intent.years  # "2024年春节从哪天到哪天": 2024年 is not the date asked
            # The same amount in the same measure: "三方绑定" states no 3个工作日.
            return f.kind in _AMOUNTS and (f.value, f.unit) in stated

        if not any(given(f) for f in s.facts):
            return s
        return replace(s, facts=tuple(f for f in s.facts if not given(f)))

    def _type_match(self, s: Sentence, intent: QuestionIntent) -> bool:
        s = self._new_facts(s, intent)
        kinds = {f.kind for f in s.facts}
        if intent.kind == "money":
            return "money" in kinds or any(f.unit == "倍" for f in s.facts)  # fines are also multiples
        if intent.kind == "quantity" and not intent.measure:
            # "多少": an amount of any kind; a bare frequency (每年, 每月) counts nothing.
            return any(f.kind in _AMOUNTS and not _bare_frequency(f) for f in s.facts)
        if intent.kind == "quantity":
            # "多少小时" is answered by 400小时; a count in another measure is no age, nor an age a count.
            counts = any(f.kind == "quantity" and (f.unit in _AGES) == (intent.measure in _AGES) for f in s.facts)
            # "几个急救中心": "设立一个急救中心" counts one, though 一个 is mostly an article.
            one = any(f"一{intent.measure}{w}" in s.text for w in intent.focus)
            return counts or one or self._measure_match(s, intent)
        if intent.kind == "duration" and intent.asks_frequency:
            return any(f.kind == "duration" and (f.text.startswith("每") or f.text.endswith("一次")) for f in s.facts)
        if intent.kind in ("percent", "duration", "docnum", "year", "phone", "ordinal"):
            return intent.kind in kinds
        if intent.kind == "date" and _DAY_ASKED.search(intent.norm):
            # "每个月几号发放", "哪天报名": a day, not a month ("当月") or a year.
            return any(f.kind == "date" and _DAY.search(f.text) for f in s.facts) or bool(_DAY_WORD.search(s.text))
        if intent.kind == "date":
            return bool(kinds & {"date", "year"}) or bool(_TIME_WORD.search(s.text))  # "2025年底" answers 什么时候
        if intent.kind == "who":
            return bool(ORG.search(s.text))
        if intent.kind == "list":
            return s.group is not None or len(list_items(s.text)) >= 3 or s.text.rstrip().endswith(("：", ":"))
        if intent.kind == "definition":
            return bool(_DEFINES.search(s.text))
        if intent.kind == "purpose":
            return bool(_PURPOSE.match(s.text))
        return False

    def _measure_match(self, s: Sentence, intent: QuestionIntent) -> bool:
        if not intent.measure:
            return False
        s = self._new_facts(s, intent)
        units = {f.unit for f in s.facts} | {f.kind for f in s.facts}
        if intent.measure == "元":
            return "money" in units or "倍" in units  # a fine may be a multiple of the sum
        if intent.measure == "%":
            return "percent" in units
        if intent.measure == "个":  # the general classifier: any count ("几个领域" → 9大领域), not an age
            return any(f.kind == "quantity" and f.unit not in _AGES for f in s.facts)
        if intent.measure in ("天", "日"):
            return bool(units & {"天", "日", "个工作日", "工作日"})
        # "几个小时" is answered by 24小时, "几个月" by 6个月.
        measure = intent.measure[1:] if intent.measure.startswith("个") and len(intent.measure) > 1 else intent.measure
        measure = "岁" if measure in _AGES else measure  # an age: 年满60周岁 or 18岁
        return measure in units or any(f.unit.endswith(measure) for f in s.facts)

    def _own_title(self, doc_id: str, quoted: str) -> bool:
        """Whether a 《title》 quoted in a document is that document's own title or its short form."""
        own = normalize(self.index.documents[doc_id].title)
        return normalize(quoted) in own

    def doc_missing(self, intent: QuestionIntent, doc_id: str) -> float:
        """Share of the question's topic words that a document never writes: one that never writes
        积分 says nothing of "随迁子女按积分入学时各项积分怎么计算"."""
        words = [w for seg in intent.segments for w, _ in tokens(seg) if len(w) >= 2 and w not in intent.focus]
        if not words or doc_id not in self.docs:
            return 0.0
        present = self.docs[doc_id].bigrams
        return sum(1 for w in words if not all(g in present for g in char_bigrams(w))) / len(words)

    def features(self, intent: QuestionIntent, grams: Sequence[str], candidates: Sequence[Candidate], query: np.ndarray | None) -> np.ndarray:
        """The feature matrix (candidates × FEATURES)."""
        x = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
        focus = [char_bigrams(f) for f in intent.focus]

        def names_focus(bigrams: AbstractSet[str]) -> bool:
            """Whether some focus word is written whole (国家标准, not any 标准)."""
            return any(all(g in bigrams for g in grams) for grams in focus)

        role_dates = {}
        for c in candidates:
            meta = self.index.documents[c.sentence.doc_id]
            role_dates[meta.doc_id] = {role: _role_date(meta, role) for role in ("published", "signed")}
        if query is not None and self.vectors is not None and candidates:
            rows = [self._first_row[c.sentence.doc_id] + c.sentence.index for c in candidates]
            x[:, _F["dense"]] = self.vectors[rows].astype(np.float32) @ query.astype(np.float32)
        for n, c in enumerate(candidates):
            s = c.sentence
            doc = self.docs[s.doc_id]
            lead_text = self._text(s.doc_id, *s.lead)
            previous = doc.sentences[s.index - 1].bigrams if s.index > 0 and not s.is_line_start else frozenset()
            items = self._items_below(doc, s) if intent.kind in TYPED_KINDS else frozenset()
            # An item's introducing line ("凡符合下列情形之一的，为较大突发环境事件：") says what it is an item of.
            intro = frozenset().union(*(t.bigrams for t in self._introducing_line(doc, s)))
            context = self._path_bigrams(s.path) | frozenset(char_bigrams(lead_text)) | previous | items | intro
            row = x[n]
            row[_F["cover_sentence"]] = self._coverage(grams, s.bigrams)
            row[_F["cover_context"]] = self._coverage(grams, context | s.bigrams)
            row[_F["cover_title"]] = self._coverage(grams, doc.title_bigrams)
            row[_F["cover_all"]] = self._coverage(grams, context | s.bigrams | doc.title_bigrams)
            if len(s.path) > 1:
                row[_F["cover_heading"]] = self._coverage(grams, self._path_bigrams(s.path[-1:]))
            no_content = not [g for g in grams if g not in doc.title_bigrams]
            row[_F["no_content"]] = float(no_content)
            row[_F["field_match"]] = float(no_content and self._type_match(s, intent))
            opening = normalize(s.text[len(doc.lines[s.line].marker) if s.is_line_start else 0 :].lstrip())[:12]
            row[_F["subject_first"]] = float(any(len(seg) >= 2 and opening.startswith(seg) for seg in intent.segments))
            row[_F["passage_rr"]] = c.passage_rr
            row[_F["typed_question"]] = float(intent.kind in TYPED_KINDS)
            row[_F["type_match"]] = float(self._type_match(s, intent))
            row[_F["measure_match"]] = float(self._measure_match(s, intent))
            asked = set(intent.years)
            # A year governs by the sentence's own text, or by its document's title when that names one year only.
            governing = set(s.years) | (set(s.context_years) if len(s.context_years) == 1 else set())
            row[_F["year_match"]] = float(bool(asked & governing))
            row[_F["year_other"]] = float(bool(asked) and bool(s.years) and not asked & set(s.years))
            row[_F["number_match"]] = float(bool(intent.numbers & numbers_in(s.text)))
            row[_F["focus_sentence"]] = float(names_focus(s.bigrams))
            row[_F["focus_context"]] = float(names_focus(context))
            row[_F["focus_missing"]] = float(bool(focus) and not names_focus(context | s.bigrams))
            row[_F["numbered_item"]] = float(s.group is not None)
            row[_F["length"]] = min(1.0, math.log1p(len(s.text)) / 6.0)
            if intent.kind == "date" and intent.date_role in ("published", "signed") and not self._specific_grams(intent, doc):
                # The document's date answers when the document is what is asked about ("评审结果哪天公布" is not).
                wanted = role_dates[s.doc_id].get(intent.date_role)
                row[_F["role_date"]] = float(bool(wanted) and any(iso_date(f.text) == wanted for f in s.facts if f.kind == "date"))
            row[_F["lead_year"]] = float(bool(asked) and any(y in lead_text for y in asked) and lead_text.lstrip().startswith(("到", "至", "截至", "在", "20", "19")))
        segment_grams = [set(char_bigrams(seg)) for seg in intent.segments if len(seg) >= 2 and seg not in intent.focus]
        rarest = self._rarest(intent, grams)
        for n, c in enumerate(candidates):
            s = c.sentence
            doc = self.docs[s.doc_id]
            around = s.bigrams | self._path_bigrams(s.path) | frozenset(char_bigrams(self._text(s.doc_id, *s.lead)))
            if intent.kind in TYPED_KINDS:
                around |= self._items_below(doc, s)
            x[n, _F["rarest_missing"]] = float(rarest is not None and rarest not in around and rarest not in doc.title_bigrams)
            if segment_grams:
                present = around | doc.title_bigrams
                x[n, _F["segment_missing"]] = sum(1 for sg in segment_grams if not sg & present) / len(segment_grams)
            if focus and intent.kind in TYPED_KINDS:
                clauses = [self._text(s.doc_id, a, b) for a, b in self._fact_clauses(s, intent)]
                x[n, _F["focus_by_fact"]] = float(any(names_focus(set(char_bigrams(text))) for text in clauses))
        if len(candidates):
            # Within one question, how a candidate compares with the best: e5 similarities sit in a
            # narrow band whose level shifts from question to question.
            x[:, _F["dense_gap"]] = x[:, _F["dense"]] - x[:, _F["dense"]].max()
            x[:, _F["cover_gap"]] = x[:, _F["cover_sentence"]] - x[:, _F["cover_sentence"]].max()
        return x

    def sentence_gap(self, s: Sentence, query: np.ndarray | None) -> np.ndarray | None:
        """|question vector − sentence vector|: where the embedding model sees the two differ; None without vectors."""
        if self.vectors is None or query is None:
            return None
        return np.abs(query.astype(np.float64) - self.vectors[self._first_row[s.doc_id] + s.index].astype(np.float64))

    def vector_gap(self, s: Sentence, retrieval: RetrievalResult) -> np.ndarray | None:
        """The sentence gap, when the answerability weights were fitted on vectors of this index's model."""
        if not self.weights.gap_coef or self.weights.gap_model != self.index.manifest.model_fingerprint:
            return None
        return self.sentence_gap(s, retrieval.query_vector)

    def _rarest(self, intent: QuestionIntent, grams: Sequence[str]) -> str | None:
        """The rarest topic bigram: inside the question's words ("设立|出海" joins two words, and a
        rare join says nothing about which sentence is meant), not of the word that says what is
        asked of the topic ("期限最长多久" is answered by "不超过3年")."""
        inside = {g for seg in intent.segments for w, _ in tokens(seg) if len(w) >= 2 and w not in intent.focus for g in char_bigrams(w)}
        known = [g for g in grams if g in self.idf and g in inside] or [g for g in grams if g in self.idf]
        return max(known, key=lambda g: self.idf[g]) if known else None

    def _holds_role_date(self, s: Sentence, role: str) -> bool:
        wanted = _role_date(self.index.documents[s.doc_id], role)
        return bool(wanted) and any(f.kind == "date" and iso_date(f.text) == wanted for f in s.facts)

    @staticmethod
    def _only_excluded(s: Sentence, intent: QuestionIntent) -> bool:
        """Whether a phrase the question is about appears in the sentence only where the sentence excludes it."""
        text = normalize(s.text)
        excluded = "".join(m.group() for m in _EXCLUSION.finditer(text))
        if not excluded:
            return False
        outside = _EXCLUSION.sub(" ", text)
        # "轮式拖拉机（动力换挡档次除外）的比例": what the question leaves out itself is not what it is about.
        asked_out = "".join(m.group() for m in _EXCLUSION.finditer(intent.norm))
        segments = [seg for seg in intent.segments if seg not in asked_out]
        if any(len(seg) >= 4 and seg in excluded and seg not in outside for seg in segments):
            return True
        # A word the question shortens: 物业费 is what "（上述费用不含物业管理费）" leaves out.
        words = [w for seg in segments for w, _ in tokens(seg) if len(w) >= 3]
        return any(_spells_out(w, excluded) and not _spells_out(w, outside) for w in words)

    @staticmethod
    def _only_negated(s: Sentence, intent: QuestionIntent) -> bool:
        """Whether a phrase the question states plainly is in the sentence only negated: "符合条件的话，多少个
        工作日内发证" is not answered by "不符合条件的……3个工作日内出具书面答复". A question of whether
        ("还能享受……吗") may be answered by the negation itself."""
        if _ASKS_WHETHER.search(intent.norm):
            return False
        text = normalize(s.text)
        for seg in intent.segments:
            if len(seg) < 3 or any(intent.norm[max(0, i - 2) : i].endswith(_NEGATORS) for i in _starts(intent.norm, seg)):
                continue
            starts = _starts(text, seg)
            if starts and all(text[max(0, i - 2) : i].endswith(_NEGATORS) for i in starts):
                return True
        return False

    def _holds_own_number(self, s: Sentence) -> bool:
        number = normalize(self.index.documents[s.doc_id].doc_number)
        return bool(number) and number in normalize(s.text)

    def _eligible(self, s: Sentence, intent: QuestionIntent) -> bool:
        """Hard constraints of shape: a typed question needs its type; a year asked must govern a number."""
        if intent.kind in TYPED_KINDS and not self._type_match(s, intent):
            return False
        if intent.kind in TYPED_KINDS and intent.kind != "year" and intent.years and not set(intent.years) & {*s.years, *s.context_years}:
            return False
        # A target for a future year does not say what amount is the case now ("目前已经制定了多少项");
        # a date or a year asked is said with years whatever the tense.
        return not (intent.present and s.years and intent.kind in ("quantity", "money", "percent"))

    def scored(
        self, intent: QuestionIntent, retrieval: RetrievalResult, named: Collection[str] = ()
    ) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
        """Eligible candidates, their features and fitted probabilities.

        Words of a named document's title say which document, not what in it: they do not
        count as content a sentence must cover.
        """
        grams = self.content_grams(intent)
        if named:
            title = frozenset().union(*(self.docs[d].title_bigrams for d in named if d in self.docs))
            quoted = {g for term in quoted_terms(intent.norm) for g in char_bigrams(term)}
            grams = [g for g in grams if g not in title or g in quoted] or grams
        candidates = [c for c in self.candidates(intent, retrieval) if self._eligible(c.sentence, intent)]
        # "量子信息标准数量" is not answered by "元宇宙、量子信息……等9大领域": a list holding the word
        # asked about answers which list it is in, not what it holds or how many of it there are.
        rarest = self._rarest(intent, grams)
        if rarest is not None and intent.kind in ("quantity", "list") and not intent.asks_membership and not _ASKS_WHETHER.search(intent.norm):
            candidates = [c for c in candidates if not _member_only(c.sentence, intent, rarest)]
        # "甘孜州……项目的机制电价是多少" is not answered by "存量项目（不含甘孜州……项目）机制电价按……执行".
        candidates = [c for c in candidates if not self._only_excluded(c.sentence, intent) and not self._only_negated(c.sentence, intent)]
        if _ASKS_DOCUMENT.search(intent.norm):
            # …another document than the one the question is about.
            # 《实施方案》 in the plan's own text is the plan itself, not another document.
            quoting = [c for c in candidates if any(t not in intent.norm and not self._own_title(c.sentence.doc_id, t) for t in re.findall("《([^》]+)》", c.sentence.text))]
            candidates = quoting or candidates
        # The addressee line answers whom a document is sent to (主送), and nothing else.
        addressed = [c for c in candidates if c.sentence.index in self._addressee_line(c.sentence.doc_id)]
        if _ASKS_ADDRESSEE.search(intent.norm):
            candidates = addressed or candidates
        elif addressed:
            candidates = [c for c in candidates if c not in addressed]
        if intent.years:
            # "到2030年要达到什么目标": when some candidates are governed by the year asked (by their own
            # text, their headings or their document's title), only they answer.
            in_year = [c for c in candidates if set(intent.years) & {*c.sentence.years, *c.sentence.context_years}]
            if intent.kind not in TYPED_KINDS:
                # "2025年的目标是什么": the paragraph that opens with the year, when there is one.
                led = [c for c in in_year if _leads_with(self.index.documents[c.sentence.doc_id].text, c.sentence, intent.years)]
                in_year = led or in_year
            texts = [self.index.documents[d].text for d in {c.sentence.doc_id for c in candidates}]
            if not in_year and not any(y in t for y in intent.years for t in texts):
                candidates = []  # a year the documents never mention ("2040年的目标")
            candidates = in_year or candidates
        if intent.kind == "date" and intent.date_role in ("signed", "published"):
            # "落款日期", "这篇通知哪天发布的": the document's metadata says which of its dates that is, when the
            # document is what is asked about ("学校门口张贴公布的截止日期" is not).
            by_role = [
                c
                for c in candidates
                if self._holds_role_date(c.sentence, intent.date_role)
                and not [g for g in self._specific_grams(intent, self.docs[c.sentence.doc_id]) if g not in GENRE_WORDS]
            ]
            candidates = by_role or candidates
        elif intent.kind == "docnum":
            # "印发通知的文号是什么": the number the document's own metadata gives it, not one it cites.
            own = [c for c in candidates if self._holds_own_number(c.sentence) and not self._specific_grams(intent, self.docs[c.sentence.doc_id])]
            # "《……实施意见》的发文字号": not the number of another 《title》 the sentence cites, unless
            # another document is what is asked ("依据哪份文件制定的？文号是什么").
            if own:
                candidates = own
            elif not _ASKS_DOCUMENT.search(intent.norm):
                candidates = [c for c in candidates if not _numbers_of_others(c.sentence, intent)]
        elif intent.kind == "date" and intent.date_role == "effective":
            # "自何时起施行": the date its commencement clause states, not the date it was adopted.
            commencing = [c for c in candidates if _COMMENCES.search(c.sentence.text)]
            candidates = commencing or candidates
        if intent.measure:
            # "建成多少个起降点": a number in the measure asked beats numbers in other measures; a
            # count in a measure of its own ("多少项") is not answered in another one.
            measured = [c for c in candidates if self._measure_match(c.sentence, intent)]
            candidates = measured if measured or intent.measure not in _GENERIC_MEASURES else candidates
        x = self.features(intent, grams, candidates, retrieval.query_vector)
        return candidates, x, self.weights.score(x) if len(candidates) else np.zeros(0)

    # ------------------------------------------------------------------ answer

    def extract(self, intent: QuestionIntent, retrieval: RetrievalResult, named: Collection[str] = ()) -> Extraction:
        """The answer to a question from its retrieved passages, or a plain refusal."""
        if not intent.segments and not intent.years and intent.kind not in ("docnum", "date", "who"):
            return self._refusal(intent, 0.0)  # "有哪些？": nothing asked about
        candidates, x, probs = self.scored(intent, retrieval, named)
        if not candidates:
            return self._refusal(intent, 0.0)
        order = self.weights.order(x)
        best = candidates[int(order[0])]
        missing = self.doc_missing(intent, best.sentence.doc_id)
        features = answerability_features(x, probs, order, retrieval, missing, self.vector_gap(best.sentence, retrieval))
        evidence = self.weights.answerability(features)
        if self._asks_document_field(intent, best.sentence):
            # "文号是什么", "哪天印发的": the document's own field, present in its text, is the evidence.
            evidence = max(evidence, self.weights.threshold)
        if evidence < self.weights.threshold:
            return self._refusal(intent, evidence)
        spans, answer_type, joiner = self.compose(best.sentence, intent)
        citations = tuple(self._cite(d, a, b, evidence, retrieval) for d, a, b in spans)
        answer = joiner.join(c.text for c in citations)
        # Other documents with an answer nearly as well supported: the documents may disagree.
        top = float(probs[order[0]])
        others = tuple(
            dict.fromkeys(
                candidates[int(i)].sentence.doc_id
                for i in order[1:]
                if probs[i] >= 0.8 * top and candidates[int(i)].sentence.doc_id != best.sentence.doc_id
            )
        )
        return Extraction(True, answer, answer_type, citations, evidence, best.sentence.doc_id, others)

    def compose(self, s: Sentence, intent: QuestionIntent) -> tuple[list[Span], AnswerType, str]:
        """The spans that make the answer from its best sentence, its type, and how its quotes are joined.

        A fact in a paragraph that opens with its year ("到2025年，……") is quoted with that year.
        """
        spans, answer_type, joiner = self._compose(s, intent)
        lead_text = self._text(s.doc_id, *s.lead)
        doc_id, first_start, _ = spans[0]
        if (
            doc_id == s.doc_id
            and first_start >= s.lead[1]
            and _LEAD_YEAR.match(lead_text)
            and not any(y in self._text(*sp) for sp in spans for y in s.years)
        ):
            spans.insert(0, (s.doc_id, *s.lead))
            joiner = joiner or "……"
        return spans, answer_type, joiner

    def _parallel_facts(self, doc: DocumentSentences, t: Sentence, intent: QuestionIntent, kinds: Collection[str]) -> list[tuple[int, int]]:
        """The clauses of the run of parallel sentences after t, each closed by ；, that state the kind
        asked ("系数为：平房1.2；多层楼房1.4；高层楼房1.6" for 分别是多少)."""
        spans: list[tuple[int, int]] = []
        previous = t
        for u in doc.sentences[t.index + 1 : t.index + _ITEMS_SHOWN]:
            if u.line != t.line or not previous.text.rstrip().endswith(("；", ";")) or not any(f.kind in kinds for f in u.facts):
                break
            spans += self._fact_clauses(u, intent)
            previous = u
        return spans

    def _parallel_naming(self, doc: DocumentSentences, s: Sentence, intent: QuestionIntent) -> list[tuple[int, int]]:
        """The fact of the parallel ；-clause beside s that names a word of the question s lacks:
        "东部地区……多少钱" is not answered by "中西部地区普通小学每生每年600元……；" alone but by
        the clause after it, "东部地区普通小学每生每年650元……"."""
        words = {w for seg in intent.segments for w, _ in tokens(seg) if len(w) >= 2}
        own = normalize(s.text)
        lacking = {w for w in words if w not in own}
        if not lacking:
            return []
        run = [s]
        for u in doc.sentences[s.index + 1 : s.index + _ITEMS_SHOWN]:
            if u.line != s.line or not run[-1].text.rstrip().endswith(("；", ";")):
                break
            run.append(u)
        for u in run[1:]:
            clause = normalize(u.text)
            if any(w in clause for w in lacking) and self._type_match(u, intent):
                return self._fact_clauses(u, intent)
        return []

    def _compose(self, s: Sentence, intent: QuestionIntent) -> tuple[list[Span], AnswerType, str]:
        doc = self.docs[s.doc_id]
        text = doc.doc.text
        if intent.kind in TYPED_KINDS:
            spans = self._fact_clauses(s, intent)
            if _asks_several(intent) and len(spans) == 1:
                # "多少日内发放？交通不便地区最多延长多久？": the sentence before or after in the paragraph may hold the other.
                kinds = self._asked_kinds(intent)
                for t in (*doc.sentences[max(0, s.index - 1) : s.index], *doc.sentences[s.index + 1 : s.index + 2]):
                    if t.line == s.line and any(f.kind in kinds for f in t.facts):
                        spans = sorted([*spans, *self._fact_clauses(t, intent)])
                        if "分别" in intent.norm and t.index > s.index:
                            spans += self._parallel_facts(doc, t, intent, kinds)
                        break
            elif not _asks_several(intent):
                spans = sorted([*spans, *self._parallel_naming(doc, s, intent)])
            item = self._item_asked(doc, s, intent)
            if item is not None:
                # "未设置围挡的，罚款多少": the fine its article states, and the item that makes it apply.
                spans = [*spans, (item.start, item.end)]
            if intent.kind == "date" and doc.issuers and _asks_several(intent) and asks_who(intent.norm):
                # "由哪些部门、在哪天发布的": the issuers of the sign-off, then the date.
                return [(s.doc_id, a, b) for a, b in [*doc.issuers, *spans]], "list", "、"
            return [(s.doc_id, a, b) for a, b in spans], "number" if intent.kind in ("quantity", "money", "percent") else "text", "……"
        asks_addressee = bool(_ASKS_ADDRESSEE.search(intent.norm))
        specific = self._specific_grams(intent, doc)
        # "哪些部门联合印发的" asks who issued the document, "平均销售价格由哪个部门公布" who publishes a price.
        if intent.kind == "who" and doc.issuers and not asks_addressee and (not specific or (intent.date_role and len(specific) <= 2)):
            # "哪些部门印发的": the document's issuers, as its sign-off names them (落款).
            return [(s.doc_id, a, b) for a, b in doc.issuers], "list", "、"
        if (intent.kind == "list" or (intent.keyword_only and _COUNTED.search(s.text))) and not intent.asks_membership:
            items, whole = self._group_items(doc, s, intent)
            if items and whole and intent.asks_quantity and s.group is None:
                count = [c for c in doc.clauses(s) if _COUNTED.search(self._text(s.doc_id, *c))]
                if count:  # "几个方面？": how many, then which
                    return [(s.doc_id, *count[0]), *[(s.doc_id, a, b) for a, b in items]], "list", "："
            if items:
                return [(s.doc_id, a, b) for a, b in items], "list", "；" if whole else ""
        if intent.asks_membership and s.group is not None and not s.group[0].startswith("article"):
            # "“协同推进……管理”属于哪项任务": the head of the numbered item that holds it (一是建体系:……).
            clauses = doc.clauses(s)
            if len(clauses) > 1:
                head = clauses[0]
                labelled = text[head[1] : head[1] + 1] in "：:" or len(self._text(s.doc_id, *head).strip()) <= 4
                return [(s.doc_id, head[0], clauses[1][1] if labelled else head[1])], "text", ""
        general = not intent.segments or self._coverage(self.content_grams(intent), s.bigrams) < 0.5
        if intent.years and general and intent.kind not in TYPED_KINDS and _leads_with(text, s, intent.years):
            line = doc.lines[s.line]
            return [(s.doc_id, line.text_start, line.end)], "text", ""  # a year's targets: the paragraph
        a, b = self._with_elaboration(doc, s)
        # A long sentence: the clause that answers; but a definition ("碳普惠是指……，基于……，并……") is all of it.
        if s.end - s.start > _LONG_SENTENCE and not (intent.kind == "definition" and _DEFINES.search(s.text)):
            a, b = self._best_clause(doc, s, intent)
        missing = [seg for seg in intent.segments[:2] if seg not in text[a:b]] if "分别" in intent.norm else []
        if missing:
            # "新型储能和新能源分别归在哪一类": the sentence beside it in the paragraph names the other.
            for t in (*doc.sentences[max(0, s.index - 1) : s.index], *doc.sentences[s.index + 1 : s.index + 2]):
                if t.line == s.line and any(seg in t.text for seg in missing):
                    return sorted([(s.doc_id, a, b), (s.doc_id, t.start, t.end)]), "text", ""
        intro = self._introduction(doc, s)
        if intro is not None:  # "（二）出租、出借…的；" means something only after "有下列行为之一的，处……："
            return [(s.doc_id, *intro), (s.doc_id, a, b)], "text", "……"
        below = self._line_items(doc, s) if text[b - 1] in "：:" else []
        if below:
            # "补贴条件：" says nothing by itself: the item the question is about, or the items, follow it.
            item = self._item_asked(doc, s, intent)
            shown = [item] if item is not None else below[:_ITEMS_SHOWN]
            return [(s.doc_id, a, b), *[(s.doc_id, t.start, t.end) for t in shown]], "text", "……" if item is not None else ""
        return [(s.doc_id, a, b)], "list" if intent.kind == "list" else "text", ""

    def _asks_document_field(self, intent: QuestionIntent, s: Sentence) -> bool:
        """A question about a field of a document as a whole (文号, date signed or published, issuers) that names nothing else."""
        field = intent.kind == "docnum" or (intent.kind == "date" and intent.date_role is not None) or (
            intent.kind == "who" and intent.date_role in ("signed", "published")
        )
        if intent.date_role == "effective" and not _COMMENCES.search(s.text):
            return False  # the date a document takes effect is the one its commencement clause states
        return field and self._type_match(s, intent) and not self._specific_grams(intent, self.docs[s.doc_id])

    def _specific_grams(self, intent: QuestionIntent, doc: DocumentSentences) -> list[str]:
        """The question's content bigrams that its document's title (or 文号) does not hold."""
        # The lines above its body name the document too: "（……通过，2016年3月31日……修订）" under a 条例's title.
        text = doc.doc.text
        body = next((ln.start for ln in doc.lines if not ln.is_heading and not _NOTE_LINE.fullmatch(text[ln.start : ln.end].strip())), len(text))
        title_chars = set(normalize(doc.doc.title + doc.doc.doc_number + text[:body]))
        # A place the question puts before the title, which the document's text holds, names it too ("福州市…方案").
        title_chars |= {c for w, pos in pos_tokens(intent.norm) if pos == "ns" and len(w) >= 2 and w[:2] in text for c in w}
        return [
            g
            for g in self.content_grams(intent)
            if len(g) == 2
            and g not in doc.title_bigrams
            and not set(g) <= title_chars
            and g not in ("部门", "单位", "机构", "部委", "机关", "制定", "印发", "发布", "出台", "颁布", "联合")
        ]

    def _best_clause(self, doc: DocumentSentences, s: Sentence, intent: QuestionIntent) -> tuple[int, int]:
        """The clause of a long sentence that covers the question best (with the next when it is only a label)."""
        grams = self.content_grams(intent)
        clauses = doc.clauses(s)
        if not clauses or not grams:
            return s.start, s.end
        scored = [(self._coverage(grams, frozenset(char_bigrams(self._text(s.doc_id, a, b)))), -a, (a, b)) for a, b in clauses]
        # "以什么为抓手": the answer sits beside the word next to the question word.
        focus = [g for f in intent.focus for g in char_bigrams(f)]
        beside = [c for c in scored if focus and all(g in char_bigrams(self._text(s.doc_id, *c[2])) for g in focus)]
        top = max(beside or scored)
        if top[0] == 0 or (not beside and top[2] == clauses[0] and all(c[0] == 0 for c in scored[1:])):
            # Nothing asked is found past the sentence's subject ("《实施方案》推进的总体思路"): it all answers.
            return s.start, s.end
        n = clauses.index(top[2])
        a, b = top[2]
        if b - a < _SHORT_CLAUSE and n + 1 < len(clauses):
            b = clauses[n + 1][1]
        return a, b

    def _introduction(self, doc: DocumentSentences, s: Sentence) -> tuple[int, int] | None:
        """The sentence that introduces the list an item belongs to, when it ends in a colon."""
        if s.group is None or s.group[0].startswith(("article", "inline")):
            return None
        first = doc.sentences[doc.groups.get(s.group[0], [s.index])[0]]
        before = [t for t in doc.sentences[max(0, first.index - 3) : first.index] if t.line < first.line]
        if before and before[-1].text.rstrip().endswith(("：", ":")):
            return before[-1].start, before[-1].end
        return None

    @staticmethod
    def _asked_kinds(intent: QuestionIntent) -> tuple[str, ...]:
        """The kinds of fact that answer a typed question."""
        if intent.kind in _AMOUNTS and _asks_several(intent):
            return _AMOUNTS  # "按多少比例激励，最高多少": a percentage and a sum
        return {
            "year": ("year", "date"),
            "date": ("date", "year"),
            "quantity": ("quantity",) if intent.measure else _AMOUNTS,
        }.get(intent.kind, (intent.kind,))

    def _fact_clauses(self, s: Sentence, intent: QuestionIntent) -> list[tuple[int, int]]:
        """The clauses of a sentence holding the facts of the kind (and measure) asked, in order."""
        doc = self.docs[s.doc_id]
        kinds = self._asked_kinds(intent)
        facts = [f for f in self._new_facts(s, intent).facts if f.kind in kinds] or [f for f in s.facts if f.kind in kinds]
        measured = [f for f in facts if self._measure_match(replace(s, facts=(f,)), intent)]
        if not _asks_several(intent):
            facts = measured or facts  # "按多少比例，最高多少": the sum too, not only the percentage
        clauses = doc.clauses(s)
        holding = [c for c in clauses if any(c[0] <= f.start and f.end <= c[1] for f in facts)]
        if len(holding) > 1 and intent.years:
            # "到2023年，…不低于4人，到2025年不低于4.66人": the clauses under the year asked, from where it is written.
            governing: dict[tuple[int, int], set[str]] = {}
            current: set[str] = set()
            for a, b in clauses:
                written = set(years_in(self._text(s.doc_id, a, b)))
                current = written or current
                governing[(a, b)] = current
            under = [c for c in holding if governing[c] & set(intent.years)]
            if under and len(under) < len(holding):
                first = next(c for c in clauses if governing[c] & set(intent.years))
                return [(first[0], under[-1][1])]
        if len(s.text) <= _SHORT_SENTENCE and holding:
            # A short sentence is quoted from its start to its last fact asked: the facts keep their subject.
            return [(clauses[0][0], holding[-1][1])]
        if not holding:
            return [(s.start, s.end)]
        if len(holding) > 1 and _asks_several(intent):
            return holding[:3]  # "新建多少个，总规模多少": each quantity asked
        if len(holding) > 1:
            grams = self.content_grams(intent)
            scored = [(self._coverage(grams, frozenset(char_bigrams(self._text(s.doc_id, a, b)))), (a, b)) for a, b in holding]
            top = max(c for c, _ in scored)
            holding = [span for c, span in scored if c >= top - 1e-9] if top > 0 else holding[:1]
        return holding

    def _group_items(self, doc: DocumentSentences, s: Sentence, intent: QuestionIntent) -> tuple[list[tuple[int, int]], bool]:
        """The items of the numbered group a list question asks for: every item's head, or the one item it names.

        "五项主要任务是什么" gets each item's head clause (一是建体系；二是强能力…); "建体系包括
        什么" says more than the group's introduction and one item says it far better than the
        rest: that item's whole sentence. Returns (spans, whether they are the whole group).
        """
        key: str | None = s.group[0] if s.group else None
        # "委托工程咨询单位、资产评估机构等专业机构……：" answers "委托哪些专业机构" by its own enumeration
        # (等 + the noun asked closes it); "有下列情形之一的……：" points to the items after it.
        own_enumeration = any(f"等{f}" in normalize(s.text) for f in intent.focus)
        introduces = s.text.rstrip().endswith(("：", ":")) and not own_enumeration
        if key is None or key.startswith("article") or introduces:
            # The sentence introduces a group ("提出五个方面的保障措施：", "第十八条 ……应当符合下列要求：",
            # "四、有下列情形之一的……：") when one follows in its section: the items after it, not its siblings.
            own = key
            after = [
                t.group[0]
                for t in doc.sentences[s.index + 1 : s.index + 40]
                if t.group and not t.group[0].startswith("article") and t.group[0] != own and t.path[: len(s.path)] == s.path
            ]
            key = after[0] if after else (None if introduces else key)
        if key is None or key not in doc.groups or key.startswith("article"):
            return [], False  # articles (第X条) are a document's parts, not the items of a list
        members = [doc.sentences[i] for i in doc.groups[key]]
        grams = self.content_grams(intent)
        head_path = members[0].path[:-1] if members[0].is_line_start else members[0].path
        intro = set(self._path_bigrams(head_path))
        for t in doc.sentences[max(0, members[0].index - 6) : members[0].index]:
            if t.path[: len(head_path)] == head_path and (t.group is None or t.group[0].startswith("article")):
                intro |= t.bigrams  # "《实施方案》提出五个方面的保障措施。" introduces the items
        residual = [g for g in grams if g not in intro]
        if residual:
            coverage = sorted(((self._coverage(residual, m.bigrams), n) for n, m in enumerate(members)), reverse=True)
            (top, n), second = coverage[0], coverage[1][0]
            if top >= 0.5 and top >= 2 * second:
                one = members[n]
                return [self._with_elaboration(doc, one)], False
        if intent.count_asked and intent.count_asked != len(members):
            return [], False
        heads = []
        text = doc.doc.text
        for m in members:
            clauses = doc.clauses(m)
            head = clauses[0] if clauses else (m.start, m.end)
            # A label ("一是建体系:") is shown with the clause that explains it; so is a bare marker.
            labelled = text[head[1] : head[1] + 1] in "：:" or len(self._text(m.doc_id, *head).strip()) <= 4
            heads.append((head[0], clauses[1][1]) if labelled and len(clauses) > 1 else head)
        return heads, True

    def _with_elaboration(self, doc: DocumentSentences, s: Sentence) -> tuple[int, int]:
        """A sentence, extended over the next when it ends in a colon or the next goes on with it (其中, 包括)."""
        start, end = s.start, s.end
        text = doc.doc.text
        # "（二）完善部门间协同监管机制。加强……": an item's heading says what the sentences after it say.
        heading_only = s.is_line_start and s.group is not None and len(_MARKER.sub("", s.text.strip())) <= _ITEM_HEADING
        for n, t in enumerate(doc.sentences[s.index + 1 : s.index + 3]):
            if t.line != s.line:
                # "本区可入读的民办小学有：" and the next paragraph is what it introduces, unless that is numbered.
                line = doc.lines[t.line]
                if n == 0 and text[end - 1] in "：:" and not line.is_heading and not line.marker and t.group is None and line.end - line.start <= _INTRODUCED_LINE:
                    end = line.end
                break
            if text[end - 1] in "：:；;" or _CONTINUES.match(t.text) or (heading_only and n == 0):
                end = t.end
            else:
                break
        return start, end

    def _refusal(self, intent: QuestionIntent, evidence: float) -> Extraction:
        if intent.kind in ("quantity", "money", "percent") and intent.years:
            message = f"未在文件中找到{'、'.join(intent.years)}年的相关数字。"
        elif intent.kind in ("quantity", "money", "percent"):
            message = "未在文件中找到相关数字。"
        elif intent.kind == "date":
            message = "未在文件中找到相关日期。"
        else:
            message = "未在文件中找到这个问题的答案。"
        return Extraction(False, message, "none", (), evidence)

    def _cite(self, doc_id: str, start: int, end: int, score: float, retrieval: RetrievalResult) -> Citation:
        """A citation for a span of its own document, inside the retrieved (or else any) chunk holding it."""
        doc = self.index.documents[doc_id]
        holders = [p.chunk for p in retrieval.passages if p.chunk.doc_id == doc_id and p.chunk.start <= start and end <= p.chunk.end]
        holders = holders or [c for c in self._chunks_of.get(doc_id, []) if c.start <= start and end <= c.end]
        if holders:
            section, p_start, p_end = holders[0].section, holders[0].start, holders[0].end
        else:  # a span longer than any chunk (a whole paragraph): the span is its own passage
            line = next((ln for ln in self.docs[doc_id].lines if ln.start <= start < ln.end), None)
            section = line.section if line else ""
            p_start, p_end = start, end
        return Citation(doc_id, doc.title, section, doc.text[start:end], start, end, round(score, 4), p_start, p_end)


def answerability_features(
    x: np.ndarray, probs: np.ndarray, order: np.ndarray, retrieval: RetrievalResult, doc_missing: float = 0.0, gap: np.ndarray | None = None
) -> np.ndarray:
    """ANSWERABILITY_FEATURES of a question from its candidates' features, probabilities and ranking,
    and the share of its topic words that the best candidate's document never writes; followed by
    the vector gap of the question and the best candidate when one is given."""
    best = x[order[0]]
    second = float(probs[order[1]]) if len(order) > 1 else 0.0
    top_passage = retrieval.passages[0] if retrieval.passages else None
    features = np.array(
        [
            float(probs[order[0]]),
            float(probs[order[0]]) - second,
            best[_F["cover_all"]],
            best[_F["cover_sentence"]],
            best[_F["dense"]],
            best[_F["no_content"]],
            best[_F["typed_question"]],
            min(1.0, math.log1p(len(probs)) / 5.0),
            top_passage.dense_score if top_passage else 0.0,
            best[_F["rarest_missing"]],
            best[_F["segment_missing"]],
            best[_F["focus_missing"]],
            doc_missing,
        ]
    )
    return features if gap is None else np.concatenate([features, gap])


_AMOUNTS = ("quantity", "money", "percent", "duration")


@functools.lru_cache(maxsize=256)
def _stated_amounts(question: str) -> frozenset[tuple[float | None, str]]:
    """The amounts a question states, with their measures (十六周岁, 5万元)."""
    return frozenset((f.value, f.unit) for f in find_facts(question) if f.kind in _AMOUNTS)


def _starts(text: str, phrase: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(phrase), text)]


def _bare_frequency(f: Fact) -> bool:
    """A frequency without a numeral ("每年", "每季度"): how often, not how much."""
    return f.kind == "duration" and f.text.startswith("每") and not has_numeral(f.text)


def _role_date(meta: Document, role: str) -> str:
    """A document's date in a role, ISO. With no date of publication known, the date it is signed
    and issued under (its 落款) is the one it was put out on."""
    signed = iso_date(meta.date_signed)
    return signed if role == "signed" else iso_date(meta.date_published) or signed


def _spells_out(word: str, text: str) -> bool:
    """Whether a text holds the word, or a longer form keeping its characters in order within twice its length."""
    if word in text:
        return True
    for start in (i for i, ch in enumerate(text) if ch == word[0]):
        position = start
        for ch in word[1:]:
            position = text.find(ch, position + 1, start + 2 * len(word))
            if position < 0:
                break
        else:
            return True
    return False


def _numbers_of_others(s: Sentence, intent: QuestionIntent) -> bool:
    """Whether every document number in a sentence follows a 《title》 the question does not name: that document's number."""
    numbers = [f for f in s.facts if f.kind == "docnum"]
    for f in numbers:
        cited = _CITED_BEFORE.search(s.text[: f.start - s.start])  # fact offsets are the document's
        if not cited or normalize(cited.group(1)) in intent.norm:
            return False
    return bool(numbers)


def _member_only(s: Sentence, intent: QuestionIntent, rarest: str) -> bool:
    """Whether the question's rarest topic bigram is written in the sentence only inside one item of
    an enumeration of three or more, no other topic word of the question is in another item, and
    for a count, the sentence's count is the list's own ("量子信息标准数量" is not answered by
    "元宇宙、脑机接口、量子信息……等9大领域": 9 counts the list, not anything of 量子信息)."""
    marker = _MARKER.match(s.text)
    skip = marker.end() if marker else 0  # "三、义务兵军衔分为上等兵、列兵": 三 is no item
    items = [(a + skip, b + skip) for a, b in list_items(s.text[skip:])]
    if len(items) < 3:
        return False
    if intent.kind == "quantity":
        closing = (s.start + items[-1][0], s.start + items[-1][1] + 2)
        if not any(f.kind == "quantity" and closing[0] <= f.start <= closing[1] for f in s.facts):
            return False
    parts = [normalize(s.text[a:b]) for a, b in items]
    # The first item carries the words leading to the list, the last the words closing it: each
    # is cut to the length of the longest item between them.
    longest = max(len(p) for p in parts[1:-1])
    cores = [parts[0][-longest:], *parts[1:-1], re.split("等|和|及", parts[-1])[0][:longest] or parts[-1][:longest]]
    holding = [i for i, core in enumerate(cores) if rarest in core]
    if len(holding) != 1:
        return False
    i = holding[0]
    outside = normalize(s.text[: items[i][0]]) + "|" + normalize(s.text[items[i][1] :])
    words = {w for seg in intent.segments for w, _ in tokens(seg) if len(w) >= 2 and w not in intent.focus}
    return rarest not in outside and not any(w in core for w in words for j, core in enumerate(cores) if j != i)


def _asks_several(intent: QuestionIntent) -> bool:
    """Whether a question asks for more than one fact: two question words, or 分别."""
    return len(re.findall("哪几|多少|几|多久|哪|多长|怎样|怎么|如何|什么", intent.norm)) >= 2 or "分别" in intent.norm


def _leads_with(text: str, s: Sentence, years: Sequence[str]) -> bool:
    lead = text[s.lead[0] : s.lead[1]]
    return any(y in lead for y in years)


__all__ = ["Answerer", "Extraction", "find_facts"]
