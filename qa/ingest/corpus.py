"""Loading policy documents: clean text from UTF-8 files, scraped-page noise removed.

A document is `corpus/<id>.txt` with an optional `corpus/<id>.json` holding its metadata.
A raw scraped page can be loaded directly: `clean_text` drops the page furniture (image
file names, QR-code and footer lines, comment counters, site slogans, repeated headings),
so the raw page and its cleaned copy give the same text and therefore the same chunks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qa.errors import CorpusError
from qa.types import Document

_IMAGE = r"[^\s/\\]+?\.(?:jpe?g|png|gif|bmp|webp|svg)"
# Whole lines of page furniture. Rules that match words which policy text may also use
# (二维码, a web address, 版权) apply only to short lines without sentence punctuation.
_NOISE_LINE = [
    re.compile(rf"^(?:{_IMAGE})+$", re.IGNORECASE),  # image file names, possibly run together
    re.compile(r"^/\*.*|.*\*/$"),  # stray script/comment text
    re.compile(r"^[—\-–]*\s*欢迎(?:登陆|登录|访问|关注)\S*$"),  # site slogans
    re.compile(r"^(?:查看)?(?:所有|全部)?评论\s*\d*$|^评论\s*\(\d+\)$"),  # comment counters
    re.compile(r"^(?:【?(?:打印|关闭|分享|收藏|返回顶部|字号)】?\s*)+$"),  # page buttons
]
_SHORT_NOISE = re.compile(r"二维码|https?://|www\.|来源于网络|联系删除|版权所有|免责声明")
_SHORT_LINE = 40
# A scraped page repeats its title (page title, then article title) within its first lines.
_HEADER_LINES = 8
# Page buttons glued to the end of a header line, e.g. "来源:工信部科技司收藏".
_TRAILING_BUTTONS = re.compile(r"(?:【?(?:打印|关闭|分享|收藏)】?)+$")
_HEADER_LINE = re.compile(r"^(?:来源|发布时间|发布日期|作者|字号)\s*[:：]")


def is_noise_line(line: str) -> bool:
    """True for a line that is page furniture rather than policy text."""
    stripped = line.strip()
    if any(p.search(stripped) for p in _NOISE_LINE):
        return True
    return len(stripped) <= _SHORT_LINE and not re.search("[。；;]", stripped) and bool(_SHORT_NOISE.search(stripped))


def clean_text(raw: str) -> str:
    """Normalise a document's text: page noise and repeated headings removed, blank-line paragraphs.

    Idempotent: cleaning clean text changes nothing.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    kept: list[str] = []
    for line in text.split("\n"):
        line = line.strip().replace("\u3000", " ").strip()
        if not line or is_noise_line(line):
            continue
        if _HEADER_LINE.match(line):
            line = _TRAILING_BUTTONS.sub("", line).rstrip()
        if kept and line == kept[0] and len(kept) < _HEADER_LINES:
            continue  # the page title repeated as the article title
        kept.append(line)
    return "\n\n".join(kept) + "\n" if kept else ""


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file, with a clear error for binary or mis-encoded content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    if b"\x00" in data[:4096]:
        raise CorpusError(f"{path} is a binary file, not UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not valid UTF-8 (byte {exc.start}); save it as UTF-8 and try again") from None


def load_document(path: Path) -> Document:
    """Load one document from `<id>.txt` and its optional `<id>.json` metadata."""
    text = clean_text(read_text_file(path))
    if not text.strip():
        raise CorpusError(f"{path} holds no text after cleaning")
    meta: dict[str, Any] = {}
    meta_path = path.with_suffix(".json")
    if meta_path.exists():
        try:
            meta = json.loads(read_text_file(meta_path))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{meta_path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(meta, dict):
            raise CorpusError(f"{meta_path} must hold a JSON object")
    first_line = text.split("\n", 1)[0].strip()
    for name in ("issuers", "examples", "topics"):
        if not isinstance(meta.get(name, []), list):
            raise CorpusError(f"{meta_path}: {name} must be a list")
    topics = meta.get("topics", [])
    if not all(isinstance(t, dict) and {"label", "question"} <= set(t) for t in topics):
        raise CorpusError(f'{meta_path}: each topic must be {{"label": ..., "question": ...}}')
    return Document.from_metadata(
        {
            **meta,
            "doc_id": meta.get("id") or path.stem,
            "title": meta.get("title") or first_line,
            "topics": [(t["label"], t["question"]) for t in topics],
        },
        text,
    )


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Load every `*.txt` document in a folder, sorted by id; ids must be unique."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    files = sorted(p for p in corpus_dir.iterdir() if p.suffix in (".txt", ".md") and not p.name.upper().startswith("README"))
    docs = [load_document(p) for p in files]
    if not docs:
        raise CorpusError(f"corpus folder {corpus_dir} holds no .txt documents")
    ids = [d.doc_id for d in docs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CorpusError(f"duplicate document ids in {corpus_dir}: {', '.join(duplicates)}")
    return docs
