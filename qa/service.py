"""The answering service: model, index, retriever and answerer, loaded once and reused."""

from __future__ import annotations

import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from qa.answer.extract import Answerer
from qa.answer.question import QUESTION_VOCABULARY, analyse
from qa.errors import IndexCorruptError, IndexMissingError, QuestionError
from qa.ingest.corpus import load_corpus
from qa.retrieve.embedder import Embedder, load_embedder
from qa.retrieve.index import (
    Index,
    build_index,
    check_compatible,
    corpus_fingerprint,
    load_index,
    read_manifest,
    recover_index,
    save_index,
    tqdm_progress,
)
from qa.retrieve.retrieval import Retriever
from qa.settings import RETRIEVERS, Settings
from qa.text.chunking import CHUNKER_VERSION
from qa.text.normalize import normalize
from qa.text.spelling import HomophoneCorrector
from qa.types import Answer

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


def ensure_index(
    settings: Settings, embedder: Embedder, force: bool = False, progress: Callable[[int, int], None] | None = None
) -> tuple[Index, bool]:
    """Load the index, building it first when missing, stale (corpus or chunking changed) or forced.

    An index built with another model or format is refused, not silently replaced.
    Returns the index and whether it was built now.
    """
    documents = load_corpus(settings.corpus_dir)
    if not force:
        recover_index(settings.index_dir)
        folder = settings.index_dir.resolve()  # one version throughout, even if a build publishes another
        try:
            manifest = read_manifest(folder)
        except (IndexMissingError, IndexCorruptError):
            manifest = None  # derived data: built again below
        if manifest is not None:
            check_compatible(manifest, embedder)
            fresh = (
                manifest.corpus_fingerprint == corpus_fingerprint(documents)
                and manifest.chunk_max_chars == settings.chunk_max_chars
                and manifest.chunk_overlap_chars == settings.chunk_overlap_chars
                and manifest.chunker_version == CHUNKER_VERSION
            )
            if fresh:
                try:
                    return load_index(folder), False
                except IndexCorruptError:
                    pass  # derived data: a damaged index is rebuilt like a missing one
    index = build_index(
        documents,
        embedder,
        settings.chunk_max_chars,
        settings.chunk_overlap_chars,
        progress=progress,
        batch_size=settings.embed_batch_size,
    )
    save_index(index, settings.index_dir)
    return index, True


@dataclass
class QAService:
    """Answers questions over one loaded index."""

    settings: Settings
    embedder: Embedder
    index: Index

    def __post_init__(self) -> None:
        s = self.settings
        self.retriever = Retriever(self.embedder, self.index, s.candidate_k, s.rrf_k, s.dense_weight, s.lexical_weight)
        self.answerer = Answerer(self.index, s.refusal_threshold)
        self.corrector = HomophoneCorrector([*(d.text for d in self.index.documents.values()), QUESTION_VOCABULARY])

    @classmethod
    def load(cls, settings: Settings, show_progress: bool = True) -> QAService:
        """Load the model and the index, building the index on first use."""
        embedder = load_embedder(settings)
        progress = tqdm_progress("建立索引") if show_progress and sys.stderr.isatty() else None
        index, _ = ensure_index(settings, embedder, progress=progress)
        return cls(settings, embedder, index)

    def ask(self, question: object, top_k: int | None = None, retriever: str | None = None) -> Answer:
        """Answer one question with cited quotes, or say plainly that the documents do not hold it."""
        started = time.perf_counter()
        text = validate_question(question, self.settings.max_question_chars)
        mode = retriever or self.settings.retriever
        if mode not in RETRIEVERS:
            raise QuestionError(f"未知的检索方式 {mode!r}，可选：{'、'.join(RETRIEVERS)}")
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= 50:
            raise QuestionError("top_k 必须在 1 到 50 之间。")
        understood = self.corrector.correct(self.corrector.expand_abbreviations(normalize(text)))
        intent = analyse(understood, self.corrector.bigrams)
        retrieval = self.retriever.search(understood, top_k=max(k, self.answerer.scope_passages), mode=mode)
        extraction = self.answerer.extract(intent, retrieval)
        return Answer(
            question=text,
            found=extraction.found,
            answer=extraction.answer,
            answer_type=extraction.answer_type,
            citations=extraction.citations,
            passages=tuple(retrieval.passages[:k]),
            latency_ms=(time.perf_counter() - started) * 1000,
            interpreted=understood if understood != normalize(text) else "",
        )
