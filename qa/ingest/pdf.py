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

_PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+)[-—–\s]*$")
_OPENS_ITEM = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+[章节条款部分]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]"
    r"|\d{1,2}[、.．](?!\d)|[①-⑳]|附件|#)"
)
_ENDS_LINE = re.compile(r"[。！？!?；;：:”’」』)）]$")
_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
# Some text layers space out every CJK character ("关 于 印 发"); in such a line the single
# spaces between CJK characters go. A line with a few such spaces ("第一条 为了") keeps them.
_CJK_GAP = re.compile(rf"(?<={_CJK}) (?={_CJK})")
_CJK_PAIR = re.compile(rf"(?={_CJK}{_CJK})")
# A text with fewer lines running on at one width than this, or a narrower width, is not taken for a wrapped one.
_MIN_WRAPPED_LINES = 5
_MIN_WRAP_WIDTH = 16
_CLAUSE_MARK = re.compile("[，、；。,;]")
# Fewer visible characters than this per page means the pages are images: a scan.
_MIN_CHARS_PER_PAGE = 10


def _full_width(lines: list[str]) -> int:
    """The width most body lines fill (0 for too few lines to tell)."""
    lengths = sorted(len(line) for line in lines if len(line) >= 8)
    return lengths[int(len(lengths) * 0.8)] if len(lengths) >= 3 else 0


def wrap_width(lines: list[str]) -> int:
    """The width a text was wrapped at, when its lines were cut at one width as a PDF's are: most
    lines of that width run on without ending a sentence. 0 for text whose lines are paragraphs."""
    full_width = _full_width(lines)
    if full_width < _MIN_WRAP_WIDTH:
        return 0
    full = [line for line in lines if abs(len(line) - full_width) <= 0.1 * full_width]
    # Wrapped prose runs on mid-sentence, with clause marks inside its lines; rows of a table or a
    # list of names of one width do not.
    running = [line for line in full if not _ENDS_LINE.search(line) and not line.startswith("|")]
    prose = sum(1 for line in running if _CLAUSE_MARK.search(line))
    wrapped = len(running) >= _MIN_WRAPPED_LINES and len(running) >= 0.5 * len(full) and len(full) >= 0.3 * len(lines)
    return full_width if wrapped and prose >= 0.5 * len(running) else 0


def join_wrapped_lines(lines: list[str]) -> list[str]:
    """Join lines the page layout wrapped: a full-width line not ending a sentence runs on."""
    full_width = _full_width(lines)  # most body lines are full lines
    if not full_width:
        return lines
    joined: list[str] = []
    last = ""  # the last line as laid out: its width says whether it was wrapped, not the joined line's
    for line in lines:
        previous = joined[-1] if joined else ""
        runs_on = (
            previous
            and len(last) >= 0.85 * full_width
            and not _ENDS_LINE.search(previous)
            and not _OPENS_ITEM.match(line)
            and not _PAGE_NUMBER.match(line)
        )
        if runs_on:
            # Words of Latin script wrapped apart keep a space between them; numbers and CJK do not.
            gap = " " if previous[-1].isascii() and previous[-1].isalpha() and line[0].isascii() and line[0].isalpha() else ""
            joined[-1] = previous + gap + line
        else:
            joined.append(line)
        last = line
    return joined


def _page_lines(pages: list[str]) -> list[str]:
    """All pages' lines, without page numbers and without a header or footer repeated on most pages."""
    per_page = [[line.strip() for line in page.splitlines() if line.strip()] for page in pages]
    repeated: set[str] = set()
    if len(per_page) >= 3:
        edges = Counter(line for lines in per_page for line in {*lines[:2], *lines[-2:]})
        repeated = {line for line, count in edges.items() if count >= max(3, len(per_page) // 2) and len(line) <= 40}
    kept = [line for lines in per_page for line in lines if line not in repeated and not _PAGE_NUMBER.match(line)]
    return [_unspaced(line) for line in kept]


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
