"""Lines a layout wrapped at one width, joined back into their paragraphs.

A PDF keeps no paragraphs, only lines as they were laid out on the page, and so does text copied
out of one or saved from an old editor. A line that fills the width and does not end a sentence
is continued on the next line, unless that line opens a heading or a numbered item (第一条, 一、,
（一）, 1.).
"""

from __future__ import annotations

import re

# A page number on a line of its own: "3", "- 3 -", "第3页 共9页", "3/9".
PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+)[-—–\s]*$")
_OPENS_ITEM = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+[章节条款部分]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]"
    r"|\d{1,2}[、.．](?!\d)|[①-⑳]|附件|#)"
)
_ENDS_LINE = re.compile(r"[。！？!?；;：:”’」』)）]$")
# A text with fewer lines running on at one width than this, or a narrower width, is not taken for a wrapped one.
_MIN_WRAPPED_LINES = 5
_MIN_WRAP_WIDTH = 16
_CLAUSE_MARK = re.compile("[，、；。,;]")


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
            and not PAGE_NUMBER.match(line)
        )
        if runs_on:
            # Words of Latin script wrapped apart keep a space between them; numbers and CJK do not.
            gap = " " if previous[-1].isascii() and previous[-1].isalpha() and line[0].isascii() and line[0].isalpha() else ""
            joined[-1] = previous + gap + line
        else:
            joined.append(line)
        last = line
    return joined
