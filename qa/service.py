"""The answering service: model, index, retriever and answerer, loaded once and reused."""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qa.answer.extract import Answerer, Extraction
from qa.answer.question import FIELD_WORDS, QuestionIntent, analyse, question_parts, quoted_terms
from qa.answer.scope import DocumentNames, names_part, naming_years, without_title
from qa.answer.scoring import Weights, load_weights
from qa.errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError, QAError, QuestionError
from qa.ingest.corpus import load_corpus
from qa.retrieve.batching import BatchingEmbedder
from qa.retrieve.embedder import Embedder, load_query_embedder
from qa.retrieve.index import (
    Index,
    build_changes,
    build_index,
    check_compatible,
    corpus_fingerprint,
    index_format_is_older,
    load_index,
    read_manifest,
    recover_index,
    save_index,
    tables_key,
    tqdm_progress,
)
from qa.retrieve.retrieval import RetrievalResult, Retriever
from qa.retrieve.vectors import open_vector_store
from qa.settings import RETRIEVERS, Settings
from qa.text.chunking import CHUNKER_VERSION
from qa.text.dictionary import load_in_background
from qa.text.normalize import normalize
from qa.text.spelling import HomophoneCorrector
from qa.types import Answer

MAX_TOP_K = 50

# Characters that draw nothing although Unicode files them as letters or symbols.
BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def shows_something(ch: str) -> bool:
    """A letter, digit, punctuation mark or symbol that draws ink.

    Spaces, zero-width spaces and joiners, the BOM, direction marks (all format
    characters), lone combining marks and blank fillers do not.
    """
    return unicodedata.category(ch)[0] in "LNPS" and ch not in BLANK_LOOKALIKES


def _strip_blank(text: str) -> str:
    """`text` without whitespace or invisible format characters (a BOM, zero-width spaces) at either end."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cf"):
        end -= 1
    return text[start:end]


def validate_question(question: object, max_chars: int) -> str:
    """The question stripped, or a QuestionError in Chinese for empty, too long or non-text input.

    A question of only invisible characters (zero-width spaces, a BOM) is empty, like one of spaces.
    """
    if not isinstance(question, str):
        raise QuestionError("问题必须是文字。")
    stripped = _strip_blank(question)
    if not stripped:
        raise QuestionError("问题不能为空，请输入您想了解的内容。")
    if len(stripped) > max_chars:
        raise QuestionError(f"问题太长（{len(stripped)}字），请控制在{max_chars}字以内。")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped):
        raise QuestionError("问题包含无法识别的控制字符，请只输入文字。")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError("问题包含无法识别的字符，请检查输入的文字编码。") from None
    if not any(shows_something(ch) for ch in stripped):
        raise QuestionError("问题不能为空，请输入您想了解的内容。")
    return stripped


def _to_stderr(line: str) -> None:
    print(f"qa: {line}", file=sys.stderr)


def validate_top_k(top_k: object) -> int:
    """The number of passages to return, checked: a whole number from 1 to MAX_TOP_K."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise QuestionError(f"top_k（返回的段落数）必须在 1 到 {MAX_TOP_K} 之间，不能是 {top_k}。")
    return top_k


def check_corpus_folder(settings: Settings) -> None:
    """Fail at once, before the model loads, when the corpus folder is missing or not a folder."""
    folder = settings.corpus_dir
    if not folder.exists():
        raise CorpusError(f"文件夹 {folder} 不存在，请检查 QA_CORPUS_DIR 或 --corpus。")
    if not folder.is_dir():
        raise CorpusError(f"{folder} 不是文件夹，请检查 QA_CORPUS_DIR 或 --corpus。")


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    report: Callable[[str], None] = _to_stderr,
) -> tuple[Index, bool]:
    """Load the index, building it first when missing, stale (corpus or chunking changed) or forced.

    An index built with another model or format is refused, not silently replaced.
    Corpus files that cannot be read are reported (one line each) and never stop the rest;
    while some are unreadable and the last index holds a document that no longer reads, that
    index stays in use rather than being rebuilt without it (`qa build` rebuilds anyway).
    Returns the index and whether it was built now.
    """
    corpus = load_corpus(settings.corpus_dir)
    for skipped in corpus.skipped:
        report(f"跳过 {skipped.reason}")
    if not force:
        recover_index(settings.index_dir)
        folder = settings.index_dir.resolve()  # one version throughout, even if a build publishes another
        try:
            manifest = read_manifest(folder)
        except (IndexMissingError, IndexCorruptError):
            manifest = None  # derived data: built again below
        except IndexMismatchError:
            if not index_format_is_older(settings.index_dir):
                raise  # a newer program's index is refused, never built over
            manifest = None  # an older format: derived data, built again below
        if manifest is not None:
            check_compatible(manifest, embedder)
            fresh = (
                manifest.corpus_fingerprint == corpus_fingerprint(corpus.documents)
                and manifest.chunk_max_chars == settings.chunk_max_chars
                and manifest.chunk_overlap_chars == settings.chunk_overlap_chars
                and manifest.chunker_version == CHUNKER_VERSION
            )
            if fresh or corpus.skipped or not corpus.documents:
                try:
                    index = load_index(folder)
                except IndexCorruptError:
                    pass  # derived data: a damaged index is rebuilt like a missing one
                else:
                    # A document whose metadata no longer reads is not what the index holds either.
                    readable = {d.doc_id for d in corpus.documents if d.doc_id not in corpus.without_metadata}
                    lost = sorted(set(index.documents) - readable)
                    if fresh and tables_are_current(index):
                        return index, False
                    if lost:
                        report(
                            f"索引未更新：{len(lost)} 份已收录的文档（{'、'.join(lost[:3])}）这次无法读取，"
                            "继续使用上次建好的索引；修正文件后运行 qa build"
                        )
                        return index, False
    if not corpus.documents:
        raise CorpusError(
            f"语料文件夹 {settings.corpus_dir} 中没有可读取的文档"
            + (f"（{len(corpus.skipped)} 个文件无法读取，原因见上）" if corpus.skipped else "（支持 .txt .md .html .docx .pdf）")
        )
    previous = previous_index(settings, embedder)
    index = build_index(
        corpus.documents,
        embedder,
        settings.chunk_max_chars,
        settings.chunk_overlap_chars,
        progress=progress,
        batch_size=settings.embed_batch_size,
        previous=previous,
        report=report,
    )
    index = replace(index, manifest=replace(index.manifest, skipped=[{"file": s.file, "reason": s.reason} for s in corpus.skipped]))
    save_index(index, settings.index_dir)
    report(build_changes(previous, index).summary())
    report(corpus.summary())
    return index, True


def tables_are_current(index: Index) -> bool:
    """Whether the saved sentence tables were computed by this program's sentence and fact extraction."""
    derived = index.derived
    return derived is not None and all(derived.sentence_keys.get(d.doc_id) == tables_key(d) for d in index.documents.values())


def previous_index(settings: Settings, embedder: Embedder) -> Index | None:
    """The index in use, when it can be read and was built by this model: its vectors are reused."""
    try:
        recover_index(settings.index_dir)
        index = load_index(settings.index_dir)
        check_compatible(index.manifest, embedder)
    except QAError:
        return None
    return index


@dataclass
class QAService:
    """Answers questions over one loaded index."""

    settings: Settings
    embedder: Embedder
    index: Index
    weights: Weights | None = None  # the fitted answer weights (default: qa/answer/weights.json)

    def __post_init__(self) -> None:
        s = self.settings
        questions = BatchingEmbedder(self.embedder) if s.batch_queries else self.embedder
        store = open_vector_store(s.vector_store, self.index)
        self.retriever = Retriever(questions, self.index, s.candidate_k, s.rrf_k, s.dense_weight, s.lexical_weight, store)
        # The sentence tables, IDF and corrector counts were computed at build and saved with the index.
        derived = self.index.derived
        docs, idf = (derived.sentences, derived.idf) if derived is not None else (None, None)
        self.answerer = Answerer(self.index, self.weights or load_weights(), s.answer_passages, docs=docs, idf=idf)
        tables = derived.corrector if derived is not None else None
        self.corrector = HomophoneCorrector(
            [d.text for d in self.index.documents.values()] if tables is None else (), tables=tables, vocabulary=FIELD_WORDS
        )
        self.names = DocumentNames(self.index.documents.values(), derived.openings if derived is not None else None)

    @classmethod
    def load(cls, settings: Settings, show_progress: bool = True) -> QAService:
        """Load the model and the index, building the index on first use."""
        check_corpus_folder(settings)
        embedder = load_query_embedder(settings, report=_to_stderr)
        progress = tqdm_progress("建立索引") if show_progress and sys.stderr.isatty() else None
        index, _ = ensure_index(settings, embedder, progress=progress)
        service = cls(settings, embedder, index)
        load_in_background()  # the dictionaries questions need (about a second): not waited for here
        return service

    def ask(
        self, question: object, top_k: int | None = None, retriever: str | None = None, doc_ids: Sequence[str] | None = None
    ) -> Answer:
        """Answer one question with cited quotes, or say plainly that the documents do not hold it.

        `doc_ids` limits the answer to those documents; a question that names a document
        (its title, 《short title》 or 文号) is limited to it.
        """
        started = time.perf_counter()
        text = validate_question(question, self.settings.max_question_chars)
        mode = retriever or self.settings.retriever
        if mode not in RETRIEVERS:
            raise QuestionError(f"未知的检索方式 {mode!r}，可选：{'、'.join(RETRIEVERS)}")
        k = validate_top_k(self.settings.top_k if top_k is None else top_k)
        if doc_ids is not None:
            unknown = [d for d in doc_ids if d not in self.index.documents]
            if unknown or not doc_ids:
                raise QuestionError(f"没有找到编号为“{'、'.join(unknown)}”的文件。" if unknown else "请至少选择一份文件。")
        understood, intent, retrieval, named = self.prepare(text, k, mode, doc_ids)
        extraction = self.answerer.extract(intent, retrieval, named)
        if understood != question_norm(text):
            # A correction stands only when it raises the evidence: "能出" is no typo of 能源出力 just
            # because one loaded document speaks of 能源出力.
            typed = self.prepare(text, k, mode, doc_ids, correct=False)
            as_typed = self.answerer.extract(typed[1], typed[2], typed[3])
            # …and a question as typed that holds a character the library never uses (特怔) is what
            # the correction reads: it gives way only when the correction finds no answer at all.
            unread = bool(self.answerer.unknown_characters(typed[1]))
            if as_typed.evidence > extraction.evidence and not (unread and extraction.found):
                (understood, intent, retrieval, named), extraction = typed, as_typed
        parts = question_parts(understood)
        if len(parts) > 1:
            extraction = self.answer_parts(parts, extraction, named, doc_ids, mode) or extraction
        documents = self.index.documents
        source = documents.get(extraction.doc_id)
        answer_text = extraction.answer
        if source is not None and extraction.also_in and len(documents) > 1:
            answer_text = f"据《{source.title}》：{answer_text}"  # documents differ: say whose answer this is
        return Answer(
            question=text,
            found=extraction.found,
            answer=answer_text,
            answer_type=extraction.answer_type,
            citations=tuple(replace(c, doc_number=documents[c.doc_id].doc_number) for c in extraction.citations),
            doc_id=extraction.doc_id,
            doc_title=source.title if source else "",
            also_in=tuple((d, documents[d].title) for d in extraction.also_in),
            passages=tuple(replace(p, title=documents[p.chunk.doc_id].title) for p in retrieval.passages[:k]),
            latency_ms=(time.perf_counter() - started) * 1000,
            interpreted=understood if understood != question_norm(text) else "",
        )

    def answer_parts(
        self, parts: Sequence[str], whole: Extraction, named: Sequence[str], doc_ids: Sequence[str] | None, mode: str
    ) -> Extraction | None:
        """The answer to a question that asks several ("从哪天开始实施，有效期多久？"), with each part's own.

        The parts after the first seldom repeat what they are about ("有效期多久"): each is asked within
        the documents named, or else the document the whole question is answered from. A part's answer
        is added where the whole question's answer does not already quote it. A question whose whole
        finds no answer stays refused: parts asked alone lose what made it unanswerable ("企业如何申报…，
        需要提交哪些材料"). None when nothing is added.
        """
        if not whole.found:
            return None
        scope = list(doc_ids or named) or [whole.doc_id]
        answers: list[Extraction] = [whole]
        for part in parts:
            query = self.search_text(part, named, doc_ids)
            retrieval = self.retriever.search(query, top_k=self.answerer.scope_passages, mode=mode, doc_ids=scope)
            answer = self.answerer.extract(self.analysed(part, named), retrieval, named)
            if not answer.found:
                continue
            quoted = [(c.doc_id, c.start, c.end) for a in answers for c in a.citations]
            if not any(d == c.doc_id and a < c.end and c.start < b for c in answer.citations for d, a, b in quoted):
                answers.append(answer)
        if len(answers) < 2:
            return None
        citations = tuple(dict.fromkeys(c for a in answers for c in a.citations))
        return Extraction(
            found=True,
            answer="；".join(a.answer for a in answers),
            answer_type="list",
            citations=citations,
            evidence=max(a.evidence for a in answers),
            doc_id=answers[0].doc_id,
            also_in=tuple(dict.fromkeys(d for a in answers for d in a.also_in if d != answers[0].doc_id)),
        )

    def prepare(
        self, text: str, top_k: int, mode: str, doc_ids: Sequence[str] | None = None, correct: bool = True
    ) -> tuple[str, QuestionIntent, RetrievalResult, list[str]]:
        """The question as understood (typos corrected unless `correct` is false), its analysis, its
        retrieved passages and the documents it names.

        Passages come from the given documents, else from the documents the question names.
        """
        understood = self.understand(text) if correct else question_norm(text)
        named = self.names.named(understood) or self.names.placed(understood)
        scope = list(doc_ids) if doc_ids else named or None
        intent = self.analysed(understood, named)
        query = self.search_text(understood, named, doc_ids)
        retrieval = self.retriever.search(query, top_k=max(top_k, self.answerer.scope_passages), mode=mode, doc_ids=scope)
        return understood, intent, retrieval, named

    def search_text(self, asked: str, named: Sequence[str], doc_ids: Sequence[str] | None) -> str:
        """What retrieval is given: the question without the title of the one document it names, which is
        the scope already (the name would only blur the search within it)."""
        if len(named) == 1 and not doc_ids:
            return without_title(asked, self.index.documents[named[0]].title)
        return asked

    def analysed(self, asked: str, named: Sequence[str]) -> QuestionIntent:
        """The analysis of `asked` (the question understood, or one part of it) within the documents it names."""
        # "川发改价格〔2025〕480号文件的成文日期": the number names the document; its year is not asked.
        intent = analyse(self.names.without_own_numbers(asked, list(named)) if named else asked)
        if named:
            # "关于2024年部分节假日安排的通知是哪天印发的", "川发改价格〔2025〕480号文件": a year of the
            # named title or number names the document, it is not asked; nor are the phrases naming it.
            docs = [self.index.documents[d] for d in named]
            naming = set().union(*(naming_years(asked, f"{normalize(d.title)} {normalize(d.doc_number)}") for d in docs))
            # "徐州市商务局《…》", "徐州市商务局关于…的通知": an issuer said before the title names the document
            # too; "是徐州市商务局发的吗" asks it.
            issuers = [
                issuer
                for issuer in (normalize(i) for d in docs for i in d.issuers)
                if issuer and re.search(re.escape(issuer) + r"\s*(?:《|关于|印发的)", asked)
            ]
            # A term the question puts in quotation marks is what it asks about, even when the title holds it too
            # ("浙江所说的“流动人口”具体指什么").
            quoted = quoted_terms(asked)
            kept = tuple(
                seg
                for seg in intent.segments
                if any(seg in term for term in quoted)
                or (
                    not any(names_part(seg, normalize(d.title), normalize(d.doc_number)) for d in docs)
                    and not (len(seg) >= 2 and any(seg in issuer for issuer in issuers))
                )
            )
            intent = replace(
                intent,
                years=tuple(y for y in intent.years if y not in naming),
                segments=kept if kept or intent.kind in ("docnum", "who") or intent.date_role else intent.segments,
            )
        return intent

    def understand(self, text: str) -> str:
        """The question normalised, abbreviations expanded and typos corrected where that finds more of it in the library."""
        norm = question_norm(text)
        corrected = self.corrector.correct(self.corrector.expand_abbreviations(norm))
        if corrected != norm and self.corrector.known_count(corrected) <= self.corrector.known_count(norm):
            return norm  # the correction explains no more of the question than the words typed
        return corrected


_KEYWORD_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=\S)|(?<=\S)\s+(?=[\u4e00-\u9fff])")


def question_norm(text: str) -> str:
    """A question normalised for matching, its typed spaces kept as word boundaries: "申报材料 单个文件"
    is two keywords, and 料单 no word of it. A space inside 《》 belongs to the title
    (《上海市碳普惠减排项目方法学 分布式光伏发电》)."""
    parts = re.split(r"(《[^》]*》)", text.strip())
    return normalize("".join(p if p.startswith("《") else _KEYWORD_GAP.sub("，", p) for p in parts))


_EMBEDDERS: dict[str, Embedder] = {}


def service_for_corpus(settings: Settings, corpus_dir: Path, weights: Weights | None = None) -> QAService:
    """A service over another corpus folder (its index kept in `.index-<folder name>` beside the main one), sharing the model."""
    if corpus_dir.resolve() != settings.corpus_dir.resolve():
        settings = settings.with_(corpus_dir=corpus_dir, index_dir=settings.index_dir.parent / f".index-{corpus_dir.resolve().name}")
    embedder = _EMBEDDERS.get(settings.model) or _EMBEDDERS.setdefault(settings.model, load_query_embedder(settings, report=_to_stderr))
    progress = tqdm_progress("建立索引") if sys.stderr.isatty() else None
    index, _ = ensure_index(settings, embedder, progress=progress)
    return QAService(settings, embedder, index, weights)
