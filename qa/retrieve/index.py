"""The index folder: FAISS vectors, readable chunks and a manifest, written atomically.

index/
  manifest.json   model name and fingerprint, dimension, chunking, corpus hash, format
  documents.jsonl the documents (id, metadata, text), so answers quote exactly what was indexed
  chunks.jsonl    one chunk a line, Chinese kept readable
  dense.faiss     inner-product index over L2-normalised chunk vectors
  sentences.npy   float16 vectors of every candidate answer sentence (qa.text.sentences order)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np

from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexWriteError
from qa.fileio import move_into_place, remove_stale_temps, temp_sibling
from qa.retrieve.embedder import Embedder
from qa.text.chunking import CHUNKER_VERSION, chunk_document
from qa.text.sentences import document_sentences
from qa.types import Chunk, Document

FORMAT_VERSION = 3
MANIFEST = "manifest.json"


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(json.dumps(doc.metadata(), ensure_ascii=False, sort_keys=True).encode())
        digest.update(doc.text.encode())
    return digest.hexdigest()[:16]


def index_text(doc: Document, chunk: Chunk) -> str:
    """What gets embedded and matched for a chunk: its section heading, then its text.

    A chunk that does not start its section gets the heading as context, so a passage
    deep inside "四、主要目标" still matches a question about targets.
    """
    heading = chunk.section.split(" › ")[-1]
    if chunk.text.startswith(heading.strip("《》")) or heading.strip("《》") in chunk.text[:40]:
        return chunk.text
    return f"{heading}\n{chunk.text}"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    model_fingerprint: str
    dim: int
    chunk_max_chars: int
    chunk_overlap_chars: int
    chunker_version: int
    corpus_fingerprint: str
    documents: int
    chunks: int
    sentences: int
    built_at: str
    build_seconds: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Index:
    """A loaded index: documents, chunks, their vectors and the manifest."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    dense: Any  # faiss.Index
    sentence_vectors: np.ndarray | None = None  # one row per candidate sentence, documents in order

    def document_of(self, chunk: Chunk) -> Document:
        return self.documents[chunk.doc_id]


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    chunk_max_chars: int,
    chunk_overlap_chars: int,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 16,
) -> Index:
    """Chunk and embed the documents into an in-memory index."""
    started = time.perf_counter()
    threads = _use_all_cores()
    chunks = [c for d in documents for c in chunk_document(d, chunk_max_chars, chunk_overlap_chars)]
    by_id = {d.doc_id: d for d in documents}
    texts = [index_text(by_id[c.doc_id], c) for c in chunks]
    sentence_texts = [s.text for d in documents for s in document_sentences(d).sentences]
    all_vectors = embed_sorted(embedder, [*texts, *sentence_texts], batch_size, progress)
    vectors, sentence_vectors = all_vectors[: len(texts)], all_vectors[len(texts) :].astype(np.float16)
    _restore_threads(threads)
    dense = faiss.IndexFlatIP(embedder.dim)
    if len(vectors):
        dense.add(vectors)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        model_fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        chunk_max_chars=chunk_max_chars,
        chunk_overlap_chars=chunk_overlap_chars,
        chunker_version=CHUNKER_VERSION,
        corpus_fingerprint=corpus_fingerprint(documents),
        documents=len(documents),
        chunks=len(chunks),
        sentences=len(sentence_texts),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    return Index(manifest, by_id, chunks, dense, sentence_vectors)


def embed_sorted(
    embedder: Embedder, texts: Sequence[str], batch_size: int, progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Embed passages in batches of similar length (less padding), returned in the input order."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        vectors[rows] = embedder.embed_documents([texts[i] for i in rows])
        if progress:
            progress(min(lo + batch_size, len(order)), len(order))
    return vectors


def _use_all_cores() -> int | None:
    """Embedding many passages does gain from every core; returns the thread count to restore."""
    try:
        import torch
    except ImportError:
        return None
    previous = int(torch.get_num_threads())
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return previous


def _restore_threads(previous: int | None) -> None:
    if previous is not None:
        import torch

        torch.set_num_threads(previous)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def save_index(index: Index, folder: Path) -> None:
    """Write the index into a temporary sibling folder, then swap it into place."""
    work = temp_sibling(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)
        work.mkdir()
        _write_jsonl(work / "documents.jsonl", [{**d.metadata(), "text": d.text} for d in index.documents.values()])
        _write_jsonl(
            work / "chunks.jsonl",
            [
                {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section, "start": c.start, "end": c.end, "text": c.text}
                for c in index.chunks
            ],
        )
        faiss.write_index(index.dense, str(work / "dense.faiss"))
        if index.sentence_vectors is not None:
            with (work / "sentences.npy").open("wb") as f:
                np.save(f, index.sentence_vectors, allow_pickle=False)
        # The manifest goes last: a folder without one is never taken for an index.
        (work / MANIFEST).write_text(json.dumps(index.manifest.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        move_into_place(work, folder)
    except (OSError, RuntimeError) as exc:  # faiss reports I/O failures as RuntimeError
        raise IndexWriteError(f"cannot write the index to {folder}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.exists():
        raise IndexMissingError(f"no index at {folder}; run `qa build` to build it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"the index manifest {path} is unreadable ({exc}); run `qa build` to rebuild it") from None
    # The format is read first: a manifest from another version may have other fields.
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {folder} has format {version}, this version reads {FORMAT_VERSION}; run `qa build` to rebuild it"
        )
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexCorruptError(f"the index manifest {path} is unreadable ({exc}); run `qa build` to rebuild it") from None


def index_format_is_older(folder: Path) -> bool:
    """Whether the index folder was written by an older version of this program (a format it can rebuild)."""
    try:
        version = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("format_version")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(version, int) and version < FORMAT_VERSION


def check_compatible(manifest: Manifest, embedder: Embedder) -> None:
    """Refuse an index built with another format or model, saying how to rebuild."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index has format {manifest.format_version}, this version reads {FORMAT_VERSION}; run `qa build` to rebuild it"
        )
    if manifest.model_fingerprint != embedder.fingerprint or manifest.dim != embedder.dim:
        raise IndexMismatchError(
            f"the index was built with model {manifest.model!r}, not the configured {embedder.name!r}; "
            "run `qa build` to rebuild it for this model"
        )


def load_index(folder: Path) -> Index:
    """Read an index folder; any damage is an IndexCorruptError that says how to rebuild."""
    manifest = read_manifest(folder)
    try:
        documents: dict[str, Document] = {}
        for line in (folder / "documents.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            documents[row["doc_id"]] = Document.from_metadata(row, row["text"])
        chunks = []
        for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            chunk = Chunk(row["doc_id"], row["section"], row["start"], row["end"], row["text"])
            if documents[chunk.doc_id].text[chunk.start : chunk.end] != chunk.text:
                raise ValueError(f"chunk {row['chunk_id']} does not match its document")
            chunks.append(chunk)
        dense = faiss.read_index(str(folder / "dense.faiss"))
        sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(f"the index at {folder} is damaged ({str(exc)[:200]}); run `qa build` to rebuild it") from None
    if (
        dense.ntotal != len(chunks)
        or dense.d != manifest.dim
        or len(chunks) != manifest.chunks
        or sentence_vectors.ndim != 2
        or len(sentence_vectors) != manifest.sentences
        or sentence_vectors.shape[1] != manifest.dim
    ):
        raise IndexCorruptError(
            f"the index at {folder} is inconsistent (vectors, chunks and manifest disagree); run `qa build` to rebuild it"
        )
    return Index(manifest, documents, chunks, dense, sentence_vectors)


def tqdm_progress(description: str) -> Callable[[int, int], None]:
    """A progress callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=description, unit="chunk", file=sys.stderr, leave=False)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()

    return update
