"""A PDF's text layer as lines: running headers and page numbers dropped, wrapped lines joined.

A PDF keeps no paragraphs, only lines as they were laid out on the page. A line that fills
the width of the page and does not end a sentence is continued on the next line, unless
that line opens a heading or a numbered item (第一条, 一、, （一）, 1.). A PDF with no text
layer (a scan) is refused with a clear message: there is no OCR.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter

from qa.ingest.errors import UnreadableFile
from qa.ingest.wrapping import PAGE_NUMBER, join_wrapped_lines

_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
# Some text layers space out every CJK character ("关 于 印 发"); in such a line the single
# spaces between CJK characters go. A line with a few such spaces ("第一条 为了") keeps them.
_CJK_GAP = re.compile(rf"(?<={_CJK}) (?={_CJK})")
_CJK_PAIR = re.compile(rf"(?={_CJK}{_CJK})")
# Text runs set apart from the CJK beside them: "2016 年 4 月 13 日" is "2016年4月13日".
_DIGIT_GAP = re.compile(rf"(?<=\d) (?={_CJK})|(?<={_CJK}) (?=\d)")
# What Chinese policy text is written in: CJK, ASCII, Latin-1, general punctuation, symbols and
# enclosed numbers. A font without a map to Unicode gives glyphs of other scripts ("฿ࣃ൧ᅱള").
_READABLE = re.compile(r"[\u0020-\u00ff\u2000-\u27bf\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
# Fewer visible characters than this per page means the pages are images: a scan.
_MIN_CHARS_PER_PAGE = 10


def _page_lines(pages: list[str]) -> list[str]:
    """All pages' lines, without page numbers and without a header or footer repeated on most pages."""
    per_page = [[line.strip() for line in page.splitlines() if line.strip()] for page in pages]
    repeated: set[str] = set()
    if len(per_page) >= 3:
        edges = Counter(line for lines in per_page for line in {*lines[:2], *lines[-2:]})
        repeated = {line for line, count in edges.items() if count >= max(3, len(per_page) // 2) and len(line) <= 40}
    kept = [line for lines in per_page for line in lines if line not in repeated and not PAGE_NUMBER.match(line)]
    return [_DIGIT_GAP.sub("", _unspaced(line)) for line in kept if _readable(line)]


def _readable(line: str) -> bool:
    """False for a line mostly of glyphs no Chinese text is written in: a font the PDF does not map to Unicode."""
    visible = re.sub(r"\s", "", line)
    return len(_READABLE.findall(visible)) >= 0.5 * len(visible)


def _unspaced(line: str) -> str:
    """A line whose CJK characters are spaced out one by one, without those spaces."""
    gaps = len(_CJK_GAP.findall(line))
    return _CJK_GAP.sub("", line) if gaps >= 3 and gaps > len(_CJK_PAIR.findall(line)) else line


def _open_without_password(reader: object, name: str) -> None:
    """Many PDFs are encrypted with an empty password only to restrict printing; others cannot be read."""
    try:
        opened = reader.decrypt("")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an unsupported cipher is as unreadable as a password
        opened = 0
    if not opened:
        raise UnreadableFile(f"{name}：PDF 已加密，需要密码才能读取，请提供未加密的文件")


def read_pdf(data: bytes, name: str) -> str:
    """The text of a PDF with a text layer, as lines; UnreadableFile for a scan, an encrypted or a damaged file."""
    from pypdf import PdfReader

    # pypdf logs every oddity of real-world files; a file it cannot read is reported once, below.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _open_without_password(reader, name)
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except Exception:  # noqa: BLE001 - any parser failure on a user's file is "cannot read this file"
        raise UnreadableFile(f"{name}：不是有效的 PDF 文件，或文件已损坏") from None
    visible = sum(len(re.sub(r"\s", "", page)) for page in pages)
    if visible < _MIN_CHARS_PER_PAGE * max(1, len(pages)):
        raise UnreadableFile(
            f"{name}：这是扫描件（PDF 中只有图像，没有文字层），无法读取文字；请提供可复制文字的 PDF 或 Word 文件"
        )
    return "\n".join(join_wrapped_lines(_page_lines(pages)))
