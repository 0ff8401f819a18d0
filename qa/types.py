"""The typed core: documents, chunks, passages, citations and answers."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnswerType = Literal["number", "list", "text", "none"]


@dataclass(frozen=True)
class Document:
    """A policy document: its id, readable text and metadata."""

    doc_id: str
    title: str
    text: str
    doc_number: str = ""
    issuers: tuple[str, ...] = ()
    date_signed: str = ""
    date_published: str = ""
    source: str = ""
    examples: tuple[str, ...] = ()  # questions the document answers, offered to users
    topics: tuple[tuple[str, str], ...] = ()  # (what it covers, a question that finds it)
    # The file the text was read from, relative to the corpus folder (for a link to the
    # original), the format it was read as, and the text encoding detected for text formats.
    source_file: str = ""
    file_format: str = ""
    encoding: str = ""

    def metadata(self) -> dict[str, Any]:
        """Everything but the text, as plain JSON-ready values."""
        data = asdict(self)
        data.pop("text")
        data["issuers"] = list(self.issuers)
        data["examples"] = list(self.examples)
        data["topics"] = [list(t) for t in self.topics]
        data["length"] = len(self.text)
        return data

    @classmethod
    def from_metadata(cls, data: dict[str, Any], text: str) -> Document:
        """The inverse of `metadata()`: a document from its JSON metadata and text."""
        return cls(
            doc_id=str(data["doc_id"]),
            title=str(data.get("title", "")),
            text=text,
            doc_number=str(data.get("doc_number", "")),
            issuers=tuple(str(x) for x in data.get("issuers", ())),
            date_signed=str(data.get("date_signed", "")),
            date_published=str(data.get("date_published", "")),
            source=str(data.get("source", "")),
            examples=tuple(str(x) for x in data.get("examples", ())),
            topics=tuple((str(label), str(question)) for label, question in data.get("topics", ())),
            source_file=str(data.get("source_file", "")),
            file_format=str(data.get("file_format", "")),
            encoding=str(data.get("encoding", "")),
        )


@dataclass(frozen=True)
class Chunk:
    """A contiguous span of a document: `document.text[start:end] == text`."""

    doc_id: str
    section: str
    start: int
    end: int
    text: str

    @property
    def chunk_id(self) -> str:
        """A content hash, so the same text in the same place always gets the same id."""
        key = f"{self.doc_id}\x00{self.start}\x00{self.end}\x00{self.text}"
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Passage:
    """A chunk as retrieved for a question, with its scores and ranks."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float = 0.0
    lexical_score: float = 0.0
    title: str = ""  # the document's title, filled in by the service


@dataclass(frozen=True)
class Citation:
    """An exact quote: `document.text[start:end] == text`, inside the passage it came from."""

    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    score: float
    passage_start: int
    passage_end: int
    doc_number: str = ""  # the document's number (文号), filled in by the service
    url: str = ""  # the document page with the quote highlighted (web API only)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The answer to one question, with the citations every fact comes from."""

    question: str
    found: bool
    answer: str
    answer_type: AnswerType
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = field(default=(), compare=False)
    latency_ms: float = 0.0
    interpreted: str = ""  # the question as understood (typos corrected), when it differs
    doc_id: str = ""  # the document the answer comes from
    doc_title: str = ""
    also_in: tuple[tuple[str, str], ...] = ()  # (doc_id, title) of other documents that speak to it

    def to_json(self) -> dict[str, Any]:
        """The JSON contract shared by the CLI and the API."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "answer_type": self.answer_type,
            "citations": [c.to_json() for c in self.citations],
            "passages": [
                {
                    "chunk_id": p.chunk.chunk_id,
                    "doc_id": p.chunk.doc_id,
                    "title": p.title,
                    "section": p.chunk.section,
                    "text": p.chunk.text,
                    "start": p.chunk.start,
                    "end": p.chunk.end,
                    "score": round(p.score, 6),
                    "dense_rank": p.dense_rank,
                    "lexical_rank": p.lexical_rank,
                }
                for p in self.passages
            ],
            "interpreted": self.interpreted,
            "doc_id": self.doc_id,
            "title": self.doc_title,
            "also_in": [{"doc_id": d, "title": t} for d, t in self.also_in],
            "latency_ms": round(self.latency_ms, 2),
        }
