"""Structure-aware chunking: parts, numbered sections, paragraphs, sentences, enumerations.

Every chunk is a contiguous span of the document text with its section path, so that
`document.text[chunk.start:chunk.end] == chunk.text` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text.outline import PAREN_NUMERALS, parse_outline
from qa.types import Chunk, Document

# Bump when chunk boundaries change for the same text: indexes built before are then stale.
CHUNKER_VERSION = 8  # also covers the outline and the candidate sentences

_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』)）]*")
# Enumeration items inside a paragraph: 一是…二是…, (一)…(二)…, 1.…2.…
_ENUM_MARK = re.compile(
    rf"(?<=[。；;：:，,])(?=[一二三四五六七八九十]+是|[(（][一二三四五六七八九十]+[)）]|{PAREN_NUMERALS}|\d{{1,2}}(?:、|\.(?!\d)))"
)


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


@dataclass
class _Section:
    path: str
    heading: tuple[int, int] | None  # heading lines (and a carried part title) that open it
    bodies: list[tuple[int, int]]  # content lines: (text start, end)


def _sections(doc: Document) -> list[_Section]:
    """Runs of outline lines with one section path; a heading or numbered line opens a new one."""
    sections: list[_Section] = []
    pending: tuple[int, int] | None = None  # heading lines waiting for their first content line
    for line in parse_outline(doc.text):
        if line.is_heading:
            pending = (pending[0], line.end) if pending else (line.start, line.end)
            continue
        opens = line.marker or not sections or sections[-1].path != line.section or pending is not None
        if opens:
            sections.append(_Section(line.section, pending, []))
            pending = None
        sections[-1].bodies.append((line.start, line.end))
    if pending:
        sections.append(_Section(sections[-1].path if sections else "", pending, []))
    return sections


def chunk_document(doc: Document, max_chars: int = 300, overlap_chars: int = 60) -> list[Chunk]:
    """Chunk a document along its outline.

    A section's headings join its first chunk; sentences (and 一是/二是 items) are packed up
    to `max_chars`; a chunk that continues a paragraph repeats the previous chunk's last
    sentences when they fit in `overlap_chars`. Chunks never cross a section.
    """
    chunks: list[Chunk] = []
    for section in _sections(doc):
        units: list[tuple[int, int, bool]] = []  # (start, end, starts_paragraph)
        for start, end in section.bodies:
            spans = [piece for span in sentence_spans(doc.text, start, end) for piece in _split_long(doc.text, span, max_chars)]
            units.extend((a, b, i == 0) for i, (a, b) in enumerate(spans))
        if not units:
            if section.heading:
                a, b = section.heading
                chunks.append(_make(doc, section.path, a, b))
            continue
        chunk_start = section.heading[0] if section.heading else None
        current: list[tuple[int, int, bool]] = []
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
