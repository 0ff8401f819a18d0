"""One reader per file type: the text of a document file as lines, and what the file itself says.

Every reader returns lines (headings and numbered lines such as 第一条, 一、, （一）, 1. on
lines of their own) and raises UnreadableFile, one Chinese line naming the file, for a file
it cannot read. The corpus loader cleans the lines into the text that citations point into.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.ingest.decoding import decode_text
from qa.ingest.errors import UnreadableFile, os_reason
from qa.ingest.html_page import declared_charset, looks_like_html, read_html
from qa.ingest.pdf import read_pdf

# Larger files are refused before they are read: text that long is not one policy document,
# while Word and PDF files carry images and run larger.
MAX_TEXT_BYTES = 50_000_000
MAX_PACKAGED_BYTES = 200_000_000
# A .docx is a zip: refuse one that would inflate past this (a zip bomb) before parsing it.
MAX_DOCX_UNPACKED_BYTES = 300_000_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office files (.doc, .xls)


@dataclass(frozen=True)
class Extracted:
    """A file's text as lines, with the format it was read as and what the file itself says."""

    text: str
    file_format: str  # "txt", "md", "html", "docx" or "pdf"
    encoding: str = ""  # for text formats: the encoding detected
    title: str = ""  # a title the file states (an HTML page's), preferred over the text's first line
    date_published: str = ""  # a publication date the file states, as written


def read_plain(data: bytes, name: str) -> Extracted:
    """A .txt file; a web page saved as .txt is read as the page it is."""
    decoded = decode_text(data, name, declared_charset(data))
    if looks_like_html(decoded.text):
        return _from_page(decoded.text, decoded.encoding)
    return Extracted(decoded.text, "txt", decoded.encoding)


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# A backslash escaping ASCII punctuation shows the mark itself: "\[发布日期\]" is "[发布日期]".
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Markdown may hold inline HTML: a line break is a line, other tags are dropped, entities read.
_MD_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MD_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
# Attribute lists some Markdown dialects put after a heading or paragraph: {align="center"}, {#id .class}.
_MD_ATTRIBUTES = re.compile(r"\s*\{(?:[#.][\w-]+|[\w-]+=(?:\"[^\"]*\"|'[^']*'|[^\s}]*))(?:\s+(?:[#.][\w-]+|[\w-]+=(?:\"[^\"]*\"|'[^']*'|[^\s}]*)))*\}\s*$")
# Extensions of Markdown dialects (VuePress, Docusaurus, markdown-it containers): fences such as
# "::: tip 修订信息" and ":::", tab labels "@tab 条例", and "[[toc]]" lay the page out; they are not text.
_MD_LAYOUT = re.compile(r"^\s*(?::::.*|@tab(?:\s.*)?|\[\[toc\]\])\s*$", re.IGNORECASE)
# A line of links to places in the same page only is a table of contents: [1](#t1) [2](#t2) …
_MD_ANCHOR_LINK = re.compile(r"\[[^\]]*\]\(#[^)]*\)")
_MD_RULE = re.compile(r"^\s*(?:```.*|~~~.*|[-*_]{3,}|\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?)\s*$")


def read_markdown(data: bytes, name: str) -> Extracted:
    """A Markdown file: `#` heading lines kept as they are; links, images, bold marks, rules, inline
    HTML tags, layout markup of Markdown dialects and tables of contents dropped."""
    decoded = decode_text(data, name)
    lines = []
    text = html.unescape(_MD_TAG.sub("", _MD_BREAK.sub("\n", decoded.text)))
    for line in text.splitlines():
        if _MD_RULE.match(line) or _MD_LAYOUT.match(line):
            continue
        if _MD_ANCHOR_LINK.search(line) and not _MD_ANCHOR_LINK.sub("", line).strip(" \t\u2003\u3000,，、|"):
            continue
        line = _MD_ATTRIBUTES.sub("", _MD_IMAGE.sub("", line))
        line = _MD_LINK.sub(r"\1", line)
        lines.append(_MD_ESCAPE.sub(r"\1", _MD_EMPHASIS.sub(r"\2", line)))
    return Extracted("\n".join(lines), "md", decoded.encoding)


def _from_page(html: str, encoding: str) -> Extracted:
    page = read_html(html)
    return Extracted(page.text, "html", encoding, page.title, page.date_published)


def read_web_page(data: bytes, name: str) -> Extracted:
    decoded = decode_text(data, name, declared_charset(data))
    return _from_page(decoded.text, decoded.encoding)


def read_docx(data: bytes, name: str) -> Extracted:
    """A Word .docx: each paragraph a line (line breaks inside one too), each table row a line."""
    if data.startswith(_OLE_MAGIC):
        raise UnreadableFile(f"{name}：这是旧版 Word（.doc）格式，请用 Word 或 WPS 另存为 .docx 后再添加")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise UnreadableFile(f"{name}：不是有效的 Word（.docx）文件，可能已损坏") from None
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise UnreadableFile(f"{name}：Word 文件解压后过大（{unpacked // 1_000_000} MB），无法读取")
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_rows(block))
            else:
                lines.extend(block.text.splitlines())
    except Exception:  # noqa: BLE001 - any parser failure on a user's file is "cannot read this file"
        raise UnreadableFile(f"{name}：Word 文件内容已损坏，无法读取") from None
    return Extracted("\n".join(lines), "docx")


def _table_rows(table: object) -> list[str]:
    """Each row of a Word table as one line, cells spaced apart; merged cells once."""
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append("  ".join(cells))
    return rows


def read_pdf_file(data: bytes, name: str) -> Extracted:
    return Extracted(read_pdf(data, name), "pdf")


READERS: dict[str, Callable[[bytes, str], Extracted]] = {
    ".txt": read_plain,
    ".text": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_web_page,
    ".htm": read_web_page,
    ".docx": read_docx,
    ".pdf": read_pdf_file,
}
# Formats people have that cannot be read, with what to do instead.
UNSUPPORTED_ADVICE = {
    ".doc": "旧版 Word（.doc）格式不支持，请另存为 .docx",
    ".wps": "WPS 文字格式不支持，请另存为 .docx",
    ".rtf": "RTF 格式不支持，请另存为 .docx 或 .txt",
    ".xls": "表格文件不支持",
    ".xlsx": "表格文件不支持",
    ".ofd": "OFD 版式文件不支持，请另存为 PDF（带文字层）",
    ".jpg": "图片无法读取文字（不做文字识别），请提供文字版文件",
    ".jpeg": "图片无法读取文字（不做文字识别），请提供文字版文件",
    ".png": "图片无法读取文字（不做文字识别），请提供文字版文件",
}


def read_document_file(path: Path, name: str) -> Extracted:
    """Read one document file by its type; UnreadableFile naming `name` if it cannot be read."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        advice = UNSUPPORTED_ADVICE.get(path.suffix.lower(), f"不支持的文件格式，可用：{'、'.join(sorted(set(READERS)))}")
        raise UnreadableFile(f"{name}：{advice}")
    try:
        size = path.stat().st_size
        limit = MAX_PACKAGED_BYTES if path.suffix.lower() in (".docx", ".pdf") else MAX_TEXT_BYTES
        if size > limit:
            raise UnreadableFile(f"{name}：文件过大（{size / 1_000_000:.1f} MB，上限 {limit // 1_000_000} MB）")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{name}：{os_reason(exc)}") from None
    if not data.strip():
        raise UnreadableFile(f"{name}：文件是空的")
    return reader(data, name)
