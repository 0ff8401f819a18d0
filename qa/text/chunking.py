"""Structure-aware chunking: parts, numbered sections, paragraphs, sentences, enumerations.

Every chunk is a contiguous span of the document text with its section path, so that
`document.text[chunk.start:chunk.end] == chunk.text` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.types import Chunk, Document

# Bump when chunk boundaries change for the same text: indexes built before are then stale.
CHUNKER_VERSION = 2

# A part title: a short line without sentence punctuation naming a document kind.
_PART_TITLE = re.compile(r"^[^。！？!?]{4,120}(?:的通知|解读|实施方案|办法|意见|规划|决定|公告)$")
# A numbered heading: "一、……", "(一)……", "1. ……", or a question on its own line.
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十百]+、|[(（][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十百]+[章节条部分]|\d{1,2}(?:、|\.(?!\d)))"
)
_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』)）]*")
# Enumeration items inside a paragraph: 一是…二是…, (一)…(二)…, 1.…2.…
_ENUM_MARK = re.compile(
    r"(?<=[。；;：:，,])(?=[一二三四五六七八九十]+是|[(（][一二三四五六七八九十]+[)）]|\d{1,2}(?:、|\.(?!\d)))"
)


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    kind: str  # "part", "heading" or "body"


def paragraphs(text: str) -> list[Paragraph]:
    """Blank-line separated paragraphs with offsets and a structural kind."""
    found: list[Paragraph] = []
    for match in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        line = match.group().strip()
        if not line:
            continue
        start = match.start() + (len(match.group()) - len(match.group().lstrip()))
        end = start + len(line)
        if _PART_TITLE.match(line) and len(line) <= 120:
            kind = "part"
        elif len(line) <= 80 and (_HEADING.match(line) or line.endswith(("?", "？"))):
            kind = "heading"
        else:
            kind = "body"
        found.append(Paragraph(start, end, kind))
    return found


def part_label(title: str) -> str:
    """A short readable label for a document part, e.g. 《解读》 or 《通知》."""
    for suffix in ("解读", "通知", "实施方案", "办法", "意见", "规划", "决定", "公告"):
        if title.endswith(suffix):
            return f"《{suffix}》"
    return f"《{title[:20]}》"


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] into sentences and enumeration items, as absolute spans."""
    cuts = {start, end}
    segment = text[start:end]
    for m in _SENTENCE_END.finditer(segment):
        cuts.add(start + m.end())
    for m in _ENUM_MARK.finditer(segment):
        cuts.add(start + m.start())
    points = sorted(cuts)
    spans = []
    for a, b in zip(points, points[1:], strict=False):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
    return spans


def _split_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """Split a span longer than max_chars at clause punctuation, else hard at max_chars."""
    a, b = span
    pieces: list[tuple[int, int]] = []
    while b - a > max_chars:
        window = text[a : a + max_chars]
        cut = max(window.rfind(p) for p in "，,、：:")
        cut = a + cut + 1 if cut > max_chars // 3 else a + max_chars
        pieces.append((a, cut))
        a = cut
    pieces.append((a, b))
    return pieces


@dataclass(frozen=True)
class _Section:
    path: str
    heading: tuple[int, int] | None
    bodies: list[Paragraph]


def _sections(doc: Document) -> list[_Section]:
    sections: list[_Section] = []
    part = part_label(doc.title)
    current = _Section(part, None, [])
    for para in paragraphs(doc.text):
        if para.kind == "part":
            if current.bodies or current.heading:
                sections.append(current)
            part = part_label(doc.text[para.start : para.end])
            # The part title itself belongs to the part's opening section.
            current = _Section(part, None, [Paragraph(para.start, para.end, "body")])
        elif para.kind == "heading":
            if current.bodies or current.heading:
                sections.append(current)
            heading = doc.text[para.start : para.end]
            current = _Section(f"{part} › {heading}", (para.start, para.end), [])
        else:
            current.bodies.append(para)
    if current.bodies or current.heading:
        sections.append(current)
    return sections


def chunk_document(doc: Document, max_chars: int = 300, overlap_chars: int = 60) -> list[Chunk]:
    """Chunk a document along its structure.

    A section's heading joins its first chunk; sentences (and 一是/二是 items) are packed
    up to `max_chars`; a chunk that continues a paragraph repeats the previous chunk's last
    sentences when they fit in `overlap_chars`. Chunks never cross a section.
    """
    chunks: list[Chunk] = []
    sections = _sections(doc)
    carried_title: int | None = None  # a part title alone joins the next section's first chunk
    for n, section in enumerate(sections):
        if (
            section.heading is None
            and len(section.bodies) == 1
            and n + 1 < len(sections)
            and _PART_TITLE.match(doc.text[section.bodies[0].start : section.bodies[0].end])
        ):
            carried_title = section.bodies[0].start
            continue
        units: list[tuple[int, int, bool]] = []  # (start, end, starts_paragraph)
        for para in section.bodies:
            spans = [
                piece
                for span in sentence_spans(doc.text, para.start, para.end)
                for piece in _split_long(doc.text, span, max_chars)
            ]
            units.extend((a, b, i == 0) for i, (a, b) in enumerate(spans))
        if section.heading and not units:
            a, b = section.heading
            if carried_title is not None:
                a, carried_title = carried_title, None
            chunks.append(Chunk(doc.doc_id, section.path, a, b, doc.text[a:b]))
            continue
        current: list[tuple[int, int, bool]] = []
        chunk_start = section.heading[0] if section.heading else None
        if carried_title is not None:
            chunk_start, carried_title = carried_title, None
        for unit in units:
            first = chunk_start if chunk_start is not None else (current[0][0] if current else unit[0])
            if current and unit[1] - first > max_chars:
                chunks.append(_make(doc, section.path, first, current[-1][1]))
                chunk_start = None
                carried: list[tuple[int, int, bool]] = []
                if not unit[2]:  # the chunk continues a paragraph: carry a little context
                    for prev in reversed(current):
                        if prev[1] - prev[0] + sum(c[1] - c[0] for c in carried) > overlap_chars:
                            break
                        carried.insert(0, prev)
                        if prev[2]:
                            break
                current = carried
            current.append(unit)
        if current:
            first = chunk_start if chunk_start is not None else current[0][0]
            chunks.append(_make(doc, section.path, first, current[-1][1]))
    return chunks


def _make(doc: Document, section: str, start: int, end: int) -> Chunk:
    return Chunk(doc.doc_id, section, start, end, doc.text[start:end])
