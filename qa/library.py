"""Keeping the library: add files to the corpus folder, remove a document, list what is there.

The corpus folder is the library. Adding copies a file in (the original is never touched)
after reading it once, so a file that cannot be read, or whose document id another file
already has, is refused with the same one-line reason a build would give, and never lands
in the folder. A file of the same name is replaced only when asked. Removing moves the
document's file and its JSON into `.removed/` inside the folder (the loader passes over
hidden folders), so a removal can be undone by hand. The web app's upload uses the same
functions and so gives the same messages.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from qa.errors import CorpusError, QAError
from qa.ingest.corpus import _IGNORED, load_corpus, load_document
from qa.ingest.readers import READERS
from qa.ingest.sidecar import read_sidecar
from qa.retrieve.index import Index, document_fingerprint, load_index
from qa.settings import Settings

REMOVED_FOLDER = ".removed"
ACCEPTED = (*sorted(set(READERS)), ".json")


class LibraryError(QAError):
    """A file cannot be added, or a document removed: one Chinese line naming it."""


@dataclass(frozen=True)
class Added:
    """A file brought into the library: its name there, the document id it gives, and what happened."""

    name: str
    doc_id: str
    outcome: str  # "added", "replaced" or "same" (already there, identical)


def check_file_name(name: str) -> str:
    """A plain file name for the corpus folder, or a LibraryError saying what is wrong with it."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base in (".", ".."):
        raise LibraryError("文件名为空，请选择一个文件。")
    if _IGNORED.search(base) or any(ord(ch) < 32 for ch in base):
        raise LibraryError(f"{base}：这个文件名不能用作文档（隐藏文件或临时文件），请改名后再添加。")
    if len(base.encode("utf-8")) > 200:
        raise LibraryError(f"{base[:40]}…：文件名太长，请改短后再添加。")
    suffix = Path(base).suffix.lower()
    if suffix not in ACCEPTED:
        raise LibraryError(f"{base}：不支持的文件格式，可用：{'、'.join(ACCEPTED)}")
    return base


def add_bytes(corpus_dir: Path, name: str, data: bytes, replace: bool = False) -> Added:
    """Put one file's bytes into the corpus folder as `name`, after checking it reads as a document.

    Refuses (LibraryError) a file that cannot be read, one whose document id another file
    of the library has, and a different file of the same name unless `replace`.
    """
    name = check_file_name(name)
    if not corpus_dir.is_dir():
        raise LibraryError(f"语料文件夹 {corpus_dir} 不存在，请检查 QA_CORPUS_DIR 或 --corpus。")
    dest = corpus_dir / name
    if dest.exists() and not dest.is_file():
        raise LibraryError(f"{name}：文档库中已有同名的文件夹，请改名后再添加。")
    existed = dest.is_file()
    same = existed and _digest(dest.read_bytes()) == _digest(data)
    if dest.is_file() and not same and not replace:
        raise LibraryError(f"{name}：文档库中已有同名但内容不同的文件；要替换它，请使用 --replace（网页上勾选“替换同名文件”）。")
    work = Path(tempfile.mkdtemp(prefix=".add-", dir=corpus_dir))  # hidden: never read as a document
    try:
        staged = work / name
        staged.write_bytes(data)
        doc_id = _check_readable(corpus_dir, staged)
        if same:
            return Added(name, doc_id, "same")
        os.replace(staged, dest)
    except OSError as exc:
        raise LibraryError(f"{name}：无法写入语料文件夹（{exc.strerror or exc}）") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Added(name, doc_id, "replaced" if existed else "added")


def _check_readable(corpus_dir: Path, staged: Path) -> str:
    """The document id the staged file gives in this library; LibraryError when it would be skipped."""
    name = staged.name
    if staged.suffix.lower() == ".json":
        try:
            return read_sidecar(staged, name).id or ""  # the loader's own message for a bad one
        except CorpusError as exc:
            raise LibraryError(str(exc)) from None
    sidecar_path = (corpus_dir / name).with_suffix(".json")
    try:
        document = load_document(staged, sidecar_path if sidecar_path.is_file() else None, staged.parent)
    except CorpusError as exc:
        raise LibraryError(str(exc)) from None
    for other in load_corpus(corpus_dir).documents:
        if other.doc_id == document.doc_id and other.source_file != name:
            raise LibraryError(
                f"{name}：文档编号 {document.doc_id} 与文档库中的 {other.source_file} 重复（请改文件名，或先用 qa remove 删除那份）"
            )
    return document.doc_id


def add_files(corpus_dir: Path, paths: list[Path], replace: bool = False) -> tuple[list[Added], list[str]]:
    """Add each file (JSON files with it as their metadata); (what was added, one error line per file refused)."""
    added: list[Added] = []
    errors: list[str] = []
    # Metadata files go first, so a document added with its JSON is checked with that JSON.
    for path in sorted(paths, key=lambda p: p.suffix.lower() != ".json"):
        try:
            if not path.is_file():
                raise LibraryError(f"{path}：文件不存在" if not path.exists() else f"{path}：这不是文件")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise LibraryError(f"{path}：无法读取（{exc.strerror or exc}）") from None
            added.append(add_bytes(corpus_dir, path.name, data, replace))
        except QAError as exc:
            errors.append(str(exc))
    return added, errors


def remove_document(corpus_dir: Path, doc_id: str) -> list[str]:
    """Move a document's file and its JSON out of the library into `.removed/<time>/`; the names moved."""
    corpus = load_corpus(corpus_dir)
    document = next((d for d in corpus.documents if d.doc_id == doc_id), None)
    if document is None:
        known = "、".join(d.doc_id for d in corpus.documents[:5])
        raise LibraryError(f"文档库中没有编号为“{doc_id}”的文档（用 qa list 查看全部编号，如：{known}）")
    source = corpus_dir / document.source_file
    files = [source, *(p for p in [source.with_suffix(".json")] if p.is_file())]
    bin_folder = corpus_dir / REMOVED_FOLDER / time.strftime("%Y%m%d-%H%M%S")
    try:
        bin_folder.mkdir(parents=True, exist_ok=True)
        for path in files:
            os.replace(path, bin_folder / path.name)
    except OSError as exc:
        raise LibraryError(f"无法移除 {document.source_file}：{exc.strerror or exc}") from None
    return [p.name for p in files]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# What the library holds


INDEXED = "已建索引"
NOT_INDEXED = "尚未建立索引"
CHANGED = "已修改，尚未重建索引"
GONE = "文件已移除，重建后不再收录"


@dataclass(frozen=True)
class LibraryRow:
    """One line of `qa list` and of `/api/documents`' skipped files."""

    doc_id: str
    title: str
    doc_number: str
    date: str
    chunks: int
    status: str
    file: str


def index_or_none(settings: Settings) -> Index | None:
    try:
        return load_index(settings.index_dir)
    except QAError:
        return None


def library_rows(settings: Settings, index: Index | None = None) -> list[LibraryRow]:
    """Every document of the corpus folder and every file skipped, with its state in the index."""
    corpus = load_corpus(settings.corpus_dir)
    index = index if index is not None else index_or_none(settings)
    indexed = index.documents if index is not None else {}
    counts: dict[str, int] = {}
    for chunk in index.chunks if index is not None else ():
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    rows = []
    for doc in corpus.documents:
        before = indexed.get(doc.doc_id)
        status = NOT_INDEXED if before is None else INDEXED if document_fingerprint(before) == document_fingerprint(doc) else CHANGED
        rows.append(
            LibraryRow(doc.doc_id, doc.title, doc.doc_number, doc.date_signed or doc.date_published, counts.get(doc.doc_id, 0), status, doc.source_file)
        )
    readable = {d.doc_id for d in corpus.documents}
    for doc_id, doc in indexed.items():
        if doc_id not in readable:
            rows.append(LibraryRow(doc_id, doc.title, doc.doc_number, doc.date_signed or doc.date_published, counts.get(doc_id, 0), GONE, doc.source_file))
    for skipped in corpus.skipped:
        rows.append(LibraryRow("", "", "", "", 0, f"已跳过：{skipped.reason}", skipped.file))
    return rows
