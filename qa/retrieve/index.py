"""The index folder: FAISS vectors, readable chunks and a manifest, written atomically.

index/
  manifest.json   model name and fingerprint, dimension, chunking, corpus hash, format,
                  and the SHA-256 of every other file
  documents.jsonl the documents (id, metadata, text), so answers quote exactly what was indexed
  chunks.jsonl    one chunk a line, Chinese kept readable
  dense.faiss     inner-product index over L2-normalised chunk vectors
  sentences.npy   float16 vectors of every candidate answer sentence (qa.text.sentences order)
  embedded.jsonl  per document, in order: the hash of the texts embedded for it and how many
                  chunk and sentence rows it has, so a later build reuses the vectors of every
                  document whose texts did not change and embeds only the others
  lexical.npz     the BM25 index over the chunks' normalised bigrams (sparse scores, vocabulary)
  corrector.json  the typo corrector's bigram and character counts and abbreviations
  sentence_tables.jsonl  per document, in order: its outline and candidate sentences (spans,
                  lead, years, typed facts, groups, sign-off, bigrams); a start keeps each line
                  as text and reads it when a question first needs that document
  sentence_keys.json  per document: what its sentence table was computed from (the document's
                  hash), so a later build reuses the tables of unchanged documents
  idf.json        each bigram's IDF over all candidate sentences
  openings.json   per document: its opening text normalised, where questions look for its name

Everything derived from the documents is computed once here, at build; a start only reads it.

`index` is a symbolic link to the live version in `.index.versions/`; a build writes a new
version and replaces the link in one rename (qa/fileio.py), so readers always find a whole index.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np

from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexWriteError, QAError
from qa.fileio import new_version, publish_version, remove_old_versions, remove_stale_temps, restore_live_link
from qa.retrieve.embedder import Embedder, release_workers
from qa.retrieve.lexical import LexicalIndex
from qa.text.chunking import CHUNKER_VERSION, chunk_document
from qa.text.normalize import normalized_opening
from qa.text.sentences import (
    SENTENCES_VERSION,
    DocumentSentences,
    document_sentences,
    sentence_idf,
    sentences_from_json,
    sentences_to_json,
)
from qa.text.spelling import CorrectorTables, corrector_tables
from qa.types import Chunk, Document

# 3: the manifest records each file's SHA-256; 4: candidate sentence vectors; 5: embedded.jsonl;
# 6: the lexical index, corrector tables, sentence tables and IDF saved (nothing recomputed at start);
# 7: the documents' normalised openings and the corrector's character readings saved; sentence tables
# read when first needed (their keys in a file of their own)
FORMAT_VERSION = 7
MANIFEST = "manifest.json"
INDEX_FILES = (
    "documents.jsonl",
    "chunks.jsonl",
    "dense.faiss",
    "sentences.npy",
    "embedded.jsonl",
    "lexical.npz",
    "corrector.json",
    "sentence_tables.jsonl",
    "sentence_keys.json",
    "idf.json",
    "openings.json",
)


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(json.dumps(doc.metadata(), ensure_ascii=False, sort_keys=True).encode())
        digest.update(doc.text.encode())
    return digest.hexdigest()[:16]


def document_fingerprint(doc: Document) -> str:
    """A hash of one document's metadata and text: it differs when the document was changed."""
    return corpus_fingerprint([doc])


@dataclass(frozen=True)
class EmbeddedDocument:
    """One document's rows in the vector arrays: the hash of the texts embedded, and how many rows."""

    doc_id: str
    key: str
    chunks: int
    sentences: int


def vectors_key(embedder_fingerprint: str, texts: Sequence[str]) -> str:
    """What a document's vectors depend on: the model and every text embedded for it, in order."""
    digest = hashlib.sha256(embedder_fingerprint.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8"))
    return digest.hexdigest()[:32]


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
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> digest, filled in by save_index
    skipped: list[dict[str, str]] = field(default_factory=list)  # files of the corpus folder not read: file, reason

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Derived:
    """What retrieval, typo correction and answering derive from the documents, computed at build."""

    lexical: LexicalIndex
    corrector: CorrectorTables
    sentences: Mapping[str, DocumentSentences]  # by document id, documents in order
    sentence_keys: dict[str, str]  # by document id: what its table was computed from (see `tables_key`)
    idf: dict[str, float]
    openings: dict[str, str]  # by document id: its `normalized_opening`, where questions look for its name


def tables_key(doc: Document) -> str:
    """What a document's sentence table depends on: its text and metadata, and the code's version."""
    return f"{SENTENCES_VERSION}:{document_fingerprint(doc)}"


def derive(index_documents: Sequence[Document], chunks: Sequence[Chunk], tables: dict[str, DocumentSentences]) -> Derived:
    """The lexical index, corrector tables and IDF over the whole library, given each document's sentence table."""
    by_id = {d.doc_id: d for d in index_documents}
    return Derived(
        lexical=LexicalIndex([index_text(by_id[c.doc_id], c) for c in chunks]),
        corrector=corrector_tables(d.text for d in index_documents),
        sentences=tables,
        sentence_keys={d.doc_id: tables_key(d) for d in index_documents},
        idf=sentence_idf(tables.values()),
        openings={d.doc_id: normalized_opening(d.text) for d in index_documents},
    )


@dataclass(frozen=True)
class Index:
    """A loaded index: documents, chunks, their vectors and the manifest."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    dense: Any  # faiss.Index
    sentence_vectors: np.ndarray | None = None  # one row per candidate sentence, documents in order
    embedded: tuple[EmbeddedDocument, ...] = ()  # each document's rows, documents in order
    embedded_now: tuple[str, ...] = ()  # the documents this build embedded (not saved: others were reused)
    derived: Derived | None = None  # computed from the documents at build, read back at load

    def document_of(self, chunk: Chunk) -> Document:
        return self.documents[chunk.doc_id]


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    chunk_max_chars: int,
    chunk_overlap_chars: int,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 16,
    previous: Index | None = None,
    report: Callable[[str], None] | None = None,
) -> Index:
    """Chunk and embed the documents into an in-memory index.

    `report` gets one line, once the first batch is embedded: how many passages and an estimate of the time.

    With a `previous` index built by the same model, a document whose texts to embed are
    unchanged takes its vectors from there; only new or changed documents are embedded.
    """
    started = time.perf_counter()
    by_id = {d.doc_id: d for d in documents}
    old_tables = previous.derived if previous is not None and previous.derived is not None else None
    tables: dict[str, DocumentSentences] = {}
    plans = []  # per document: its chunks, chunk texts, sentence texts and key
    for doc in documents:
        doc_chunks = chunk_document(doc, chunk_max_chars, chunk_overlap_chars)
        texts = [index_text(doc, c) for c in doc_chunks]
        if old_tables is not None and old_tables.sentence_keys.get(doc.doc_id) == tables_key(doc):
            tables[doc.doc_id] = old_tables.sentences[doc.doc_id]
        else:
            tables[doc.doc_id] = document_sentences(doc)
        sentence_texts = [s.text for s in tables[doc.doc_id].sentences]
        key = vectors_key(embedder.fingerprint, [*texts, "", *sentence_texts])  # "" parts chunks from sentences
        plans.append((doc, doc_chunks, texts, sentence_texts, key))
    reusable = _previous_vectors(previous, embedder) if previous is not None else {}
    to_embed = [text for _, _, texts, sentence_texts, key in plans if key not in reusable for text in (*texts, *sentence_texts)]
    threads = _use_all_cores() if to_embed else None
    try:
        fresh = embed_sorted(embedder, to_embed, batch_size, progress, report)
    finally:
        release_workers(embedder)
        _restore_threads(threads)
    chunk_rows: list[np.ndarray] = []
    sentence_rows: list[np.ndarray] = []
    embedded: list[EmbeddedDocument] = []
    embedded_now: list[str] = []
    cursor = 0
    for doc, doc_chunks, texts, sentence_texts, key in plans:
        if key in reusable:
            chunk_part, sentence_part = reusable[key]
        else:
            n = len(texts) + len(sentence_texts)
            chunk_part, sentence_part = fresh[cursor : cursor + len(texts)], fresh[cursor + len(texts) : cursor + n]
            cursor += n
            embedded_now.append(doc.doc_id)
        chunk_rows.append(chunk_part.astype(np.float32))
        sentence_rows.append(sentence_part.astype(np.float16))
        embedded.append(EmbeddedDocument(doc.doc_id, key, len(doc_chunks), len(sentence_texts)))
    chunks = [c for _, doc_chunks, _, _, _ in plans for c in doc_chunks]
    vectors = np.concatenate(chunk_rows) if chunk_rows else np.zeros((0, embedder.dim), dtype=np.float32)
    sentence_vectors = np.concatenate(sentence_rows) if sentence_rows else np.zeros((0, embedder.dim), dtype=np.float16)
    dense = faiss.IndexFlatIP(embedder.dim)
    if len(vectors):
        dense.add(np.ascontiguousarray(vectors))
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
        sentences=len(sentence_vectors),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    derived = derive(documents, chunks, tables)
    manifest = replace(manifest, build_seconds=round(time.perf_counter() - started, 3))
    return Index(manifest, by_id, chunks, dense, sentence_vectors, tuple(embedded), tuple(embedded_now), derived)


def _previous_vectors(previous: Index, embedder: Embedder) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A previous index's vectors by document key: (chunk rows, sentence rows); none from another model."""
    m = previous.manifest
    if m.model_fingerprint != embedder.fingerprint or m.dim != embedder.dim or previous.sentence_vectors is None:
        return {}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    chunk_at = sentence_at = 0
    for entry in previous.embedded:
        chunk_part = previous.dense.reconstruct_n(chunk_at, entry.chunks) if entry.chunks else np.zeros((0, m.dim), np.float32)
        found[entry.key] = (chunk_part, previous.sentence_vectors[sentence_at : sentence_at + entry.sentences])
        chunk_at += entry.chunks
        sentence_at += entry.sentences
    return found


@dataclass(frozen=True)
class BuildChanges:
    """What a build changed in the library, by document id."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    embedded: tuple[str, ...]

    def summary(self) -> str:
        def named(ids: Sequence[str]) -> str:
            return f"{len(ids)} 份" + (f"（{'、'.join(ids[:5])}{'等' if len(ids) > 5 else ''}）" if ids else "")

        return (
            f"新增 {named(self.added)}，更新 {named(self.updated)}，删除 {named(self.removed)}，未变 {len(self.unchanged)} 份；"
            f"计算向量 {len(self.embedded)} 份文档"
        )


def build_changes(previous: Index | None, index: Index) -> BuildChanges:
    """The documents a build added, updated (text or metadata changed), removed or left as they were."""
    before = previous.documents if previous is not None else {}
    after = index.documents
    updated = [d for d in after if d in before and document_fingerprint(before[d]) != document_fingerprint(after[d])]
    return BuildChanges(
        added=tuple(d for d in after if d not in before),
        updated=tuple(updated),
        removed=tuple(d for d in before if d not in after),
        unchanged=tuple(d for d in after if d in before and d not in updated),
        embedded=index.embedded_now,
    )


def embed_sorted(
    embedder: Embedder,
    texts: Sequence[str],
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Embed passages in batches of similar length (less padding), returned in the input order.

    A text that occurs more than once (a short paragraph that is also a candidate sentence, a
    heading repeated across documents) is embedded once and its vector copied: in the evaluation
    library one text in seven is such a repeat. `progress` and `report` count distinct texts.
    `report` gets the passage count and the time the rest should take, once a twentieth of the
    characters after the first batch are done: the first batch pays for warming the model up, and
    the shortest texts, which come first, cost more per character, so earlier guesses ran hundreds
    of times too long.
    """
    row_of: dict[str, int] = {}
    rows_of_texts = np.array([row_of.setdefault(text, len(row_of)) for text in texts], dtype=np.int64)
    distinct = list(row_of)
    vectors = np.zeros((len(distinct), embedder.dim), dtype=np.float32)
    order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
    total_chars = sum(len(t) for t in distinct)
    done_chars = 0
    warm_chars, warm_seconds = 0, 0.0  # the first batch's, left out of the rate
    reported = False
    started = time.perf_counter()
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        vectors[rows] = embedder.embed_documents([distinct[i] for i in rows])
        done_chars += sum(len(distinct[i]) for i in rows)
        seconds = time.perf_counter() - started
        if lo == 0:
            warm_chars, warm_seconds = done_chars, seconds
        last = lo + batch_size >= len(order)
        if report is not None and not reported and (last or (lo > 0 and done_chars - warm_chars >= total_chars / 20)):
            measured = done_chars - warm_chars
            rate = (seconds - warm_seconds) / measured if measured else 0.0
            report(estimate_line(len(distinct), rate * (total_chars - done_chars)))
            reported = True
        if progress:
            progress(min(lo + batch_size, len(order)), len(order))
    return vectors[rows_of_texts]


def estimate_line(passages: int, left: float) -> str:
    """"约 N 段，预计 M 分钟", for `left` seconds still to go."""
    when = f"预计 {math.ceil(left / 60)} 分钟" if left >= 60 else "预计不到 1 分钟"
    return f"计算向量：约 {passages} 段，{when}"


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)  # type: ignore[arg-type]  # plain arrays only
    return buffer.getvalue()


def derived_of(index: Index) -> Derived:
    """The index's derived data, computed now for an index assembled without it."""
    if index.derived is not None:
        return index.derived
    docs = list(index.documents.values())
    return derive(docs, index.chunks, {d.doc_id: document_sentences(d) for d in docs})


def _npy(array: np.ndarray | None) -> bytes:
    """An array as the bytes of a .npy file (an empty one for none)."""
    buffer = io.BytesIO()
    np.save(buffer, array if array is not None else np.zeros((0, 0), dtype=np.float16), allow_pickle=False)
    return buffer.getvalue()


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


def _jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def save_index(index: Index, folder: Path) -> None:
    """Write the index as a new version beside `folder`, then make `folder` point at it."""
    version: Path | None = None
    published = False
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)  # work folders that killed builds of earlier releases left beside it
        version = new_version(folder)
        derived = derived_of(index)
        contents = {
            "documents.jsonl": _jsonl([{**d.metadata(), "text": d.text} for d in index.documents.values()]),
            "chunks.jsonl": _jsonl(
                [
                    {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "section": c.section, "start": c.start, "end": c.end, "text": c.text}
                    for c in index.chunks
                ]
            ),
            "dense.faiss": faiss.serialize_index(index.dense).tobytes(),
            "sentences.npy": _npy(index.sentence_vectors),
            "embedded.jsonl": _jsonl([e.__dict__ for e in index.embedded]),
            "lexical.npz": _npz(derived.lexical.to_arrays()),
            "corrector.json": json.dumps(derived.corrector.to_json(), ensure_ascii=False).encode("utf-8"),
            "sentence_tables.jsonl": _jsonl([sentences_to_json(table) for table in derived.sentences.values()]),
            "sentence_keys.json": json.dumps(derived.sentence_keys, ensure_ascii=False).encode("utf-8"),
            "idf.json": json.dumps(derived.idf, ensure_ascii=False).encode("utf-8"),
            "openings.json": json.dumps(derived.openings, ensure_ascii=False).encode("utf-8"),
        }
        for name, data in contents.items():
            _write_durably(version / name, data)
        manifest = replace(index.manifest, sha256={name: hashlib.sha256(data).hexdigest() for name, data in contents.items()})
        # The manifest goes last: a version without one is never taken for an index.
        _write_durably(version / MANIFEST, (json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        previous = publish_version(version, folder)
        published = True
        remove_old_versions(folder, keep=(version, previous), marker=MANIFEST)
    except (OSError, RuntimeError) as exc:  # faiss reports I/O failures as RuntimeError
        raise IndexWriteError(f"无法写入索引 {folder}：{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        if version is not None and not published:
            shutil.rmtree(version, ignore_errors=True)


def recover_index(folder: Path) -> bool:
    """When `folder` is missing (a build killed while publishing), restore the newest complete version."""

    def complete(version: Path) -> bool:
        try:
            read_verified(version, read_manifest(version))
        except QAError:
            return False
        return True

    try:
        return restore_live_link(folder, complete)
    except OSError:
        return False  # the folder cannot be repaired here: it is built again


REBUILD = "请运行 `qa build` 重新建立索引"


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.exists():
        raise IndexMissingError(f"{folder} 还没有索引，请运行 `qa build` 建立索引")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"索引清单 {path} 无法读取（{exc}），{REBUILD}") from None
    # The format is read first: a manifest from another version may have other fields.
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(f"{folder} 的索引格式为 {version}，本版本读取格式 {FORMAT_VERSION}，{REBUILD}")
    try:
        manifest = Manifest(**data)
    except TypeError as exc:
        raise IndexCorruptError(f"索引清单 {path} 无法读取（{exc}），{REBUILD}") from None
    names = manifest.sha256 if isinstance(manifest.sha256, dict) else {}
    if not set(INDEX_FILES) <= set(names) or any(Path(name).name != name for name in names):
        raise IndexCorruptError(f"索引清单 {path} 缺少文件校验和，{REBUILD}")
    return manifest


def read_verified(folder: Path, manifest: Manifest) -> dict[str, bytes]:
    """Every index file's bytes, each checked against the SHA-256 in the manifest.

    The bytes checked are the bytes then parsed, so a file changed in between cannot slip through.
    """
    contents = {}
    for name, expected in manifest.sha256.items():
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise IndexCorruptError(f"索引文件 {folder / name} 无法读取（{exc.strerror or exc}），{REBUILD}") from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise IndexCorruptError(f"索引文件 {folder / name} 已损坏（校验和不符），{REBUILD}")
        contents[name] = data
    return contents


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
        raise IndexMismatchError(f"索引格式为 {manifest.format_version}，本版本读取格式 {FORMAT_VERSION}，{REBUILD}")
    if manifest.model_fingerprint != embedder.fingerprint or manifest.dim != embedder.dim:
        raise IndexMismatchError(
            f"索引是用模型 {manifest.model!r} 建立的，不是当前配置的 {embedder.name!r}，请运行 `qa build` 为此模型重新建立索引"
        )


def load_index(folder: Path) -> Index:
    """Read an index folder; any damage is an IndexCorruptError that says how to rebuild.

    The link is followed once, so a build publishing a new version meanwhile cannot mix two.
    """
    folder = folder.resolve()
    manifest = read_manifest(folder)
    contents = read_verified(folder, manifest)
    try:
        documents: dict[str, Document] = {}
        for line in contents["documents.jsonl"].decode("utf-8").splitlines():
            row = json.loads(line)
            documents[row["doc_id"]] = Document.from_metadata(row, row["text"])
        chunks = []
        for line in contents["chunks.jsonl"].decode("utf-8").splitlines():
            row = json.loads(line)
            chunk = Chunk(row["doc_id"], row["section"], row["start"], row["end"], row["text"])
            if documents[chunk.doc_id].text[chunk.start : chunk.end] != chunk.text:
                raise ValueError(f"chunk {row['chunk_id']} does not match its document")
            chunks.append(chunk)
        dense = faiss.deserialize_index(np.frombuffer(contents["dense.faiss"], dtype=np.uint8))
        sentence_vectors = np.load(io.BytesIO(contents["sentences.npy"]), allow_pickle=False)
        embedded = tuple(
            EmbeddedDocument(str(r["doc_id"]), str(r["key"]), int(r["chunks"]), int(r["sentences"]))
            for r in map(json.loads, contents["embedded.jsonl"].decode("utf-8").splitlines())
        )
        derived = _read_derived(folder, contents, documents, embedded)
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError, OSError) as exc:
        raise IndexCorruptError(f"{folder} 的索引已损坏（{str(exc)[:200]}），{REBUILD}") from None
    if (
        dense.ntotal != len(chunks)
        or dense.d != manifest.dim
        or len(chunks) != manifest.chunks
        or sentence_vectors.ndim != 2
        or len(sentence_vectors) != manifest.sentences
        or sentence_vectors.shape[1] != manifest.dim
        or [e.doc_id for e in embedded] != list(documents)
        or sum(e.chunks for e in embedded) != len(chunks)
        or sum(e.sentences for e in embedded) != len(sentence_vectors)
        or derived.lexical.size != len(chunks)
        or list(derived.sentences) != list(documents)
        or list(derived.sentence_keys) != list(documents)
        or list(derived.openings) != list(documents)
    ):
        raise IndexCorruptError(f"{folder} 的索引前后不一致（向量、段落与清单不符），{REBUILD}")
    return Index(manifest, documents, chunks, dense, sentence_vectors, embedded, derived=derived)


def _read_derived(
    folder: Path, contents: dict[str, bytes], documents: dict[str, Document], embedded: Sequence[EmbeddedDocument]
) -> Derived:
    """The lexical index, corrector tables, sentence tables, IDF and openings as saved: nothing is computed again."""
    with np.load(io.BytesIO(contents["lexical.npz"]), allow_pickle=False) as arrays:
        lexical = LexicalIndex.from_arrays({name: arrays[name] for name in arrays.files})
    corrector = CorrectorTables.from_json(json.loads(contents["corrector.json"]))
    lines = contents["sentence_tables.jsonl"].decode("utf-8").splitlines()
    if len(lines) != len(documents):
        raise ValueError(f"{len(lines)} sentence tables for {len(documents)} documents")
    counts = {e.doc_id: e.sentences for e in embedded}
    sentences = SavedTables(folder, documents, dict(zip(documents, lines, strict=True)), counts)
    idf = json.loads(contents["idf.json"])
    if not isinstance(idf, dict) or not all(isinstance(v, float) for v in idf.values()):
        raise ValueError("idf.json is not a table of numbers")
    keys, openings = _texts_by_id(contents, "sentence_keys.json"), _texts_by_id(contents, "openings.json")
    return Derived(lexical, corrector, sentences, keys, idf, openings)


def _texts_by_id(contents: dict[str, bytes], name: str) -> dict[str, str]:
    table = json.loads(contents[name])
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValueError(f"{name} is not a table of texts")
    return table


class SavedTables(Mapping[str, DocumentSentences]):
    """The sentence tables of a loaded index, each read from its saved line when first asked for.

    A start reads none of them (at 10,000 passages that alone took seconds); a question reads
    those of the documents its passages come from. A line that does not fit its document is
    an IndexCorruptError then, like any other damage.
    """

    def __init__(self, folder: Path, documents: dict[str, Document], lines: dict[str, str], counts: dict[str, int]) -> None:
        self._folder = folder
        self._documents = documents
        self._lines = lines  # document id -> its saved line, documents in order
        self._counts = counts  # document id -> how many sentence vectors it has
        self._read: dict[str, DocumentSentences] = {}

    def __getitem__(self, doc_id: str) -> DocumentSentences:
        table = self._read.get(doc_id)
        if table is None:
            line = self._lines[doc_id]  # a KeyError for a document the index does not hold
            try:
                table = sentences_from_json(self._documents[doc_id], json.loads(line))
                if len(table.sentences) != self._counts[doc_id]:
                    raise ValueError(f"sentence table of {doc_id} does not match its vectors")
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise IndexCorruptError(f"{self._folder} 的索引已损坏（{str(exc)[:200]}），{REBUILD}") from None
            # Two questions may read the same table at once: both get equal tables, one is kept.
            table = self._read.setdefault(doc_id, table)
        return table

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._lines

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)


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
