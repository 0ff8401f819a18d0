"""Loading policy documents: every readable file in the corpus folder, with its metadata.

A document is any `.txt`, `.md`, `.html`, `.docx` or `.pdf` file in the corpus folder, with
an optional `<same name>.json` beside it holding metadata that overrides what is read from
the text. A file that cannot be read is skipped with a one-line reason and never stops the
others. Nothing in the folder is written to.

A raw scraped page can be loaded directly: `clean_text` drops the page furniture (image
file names, QR-code and footer lines, comment counters, site slogans, repeated headings),
so the raw page and its cleaned copy give the same text and therefore the same chunks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.errors import UnreadableFile
from qa.ingest.metadata import extract_metadata, is_signoff_line, parse_date
from qa.ingest.readers import read_document_file
from qa.ingest.sidecar import ID_PATTERN, MAX_ID_CHARS, Sidecar, read_sidecar
from qa.ingest.wrapping import join_wrapped_lines, wrap_width
from qa.types import Document

_IMAGE = r"[^\s/\\]+?\.(?:jpe?g|png|gif|bmp|webp|svg)"
# Whole lines of page furniture. Rules that match words which policy text may also use
# (二维码, a web address, 版权) apply only to short lines without sentence punctuation.
_NOISE_LINE = [
    re.compile(rf"^(?:{_IMAGE})+$", re.IGNORECASE),  # image file names, possibly run together
    re.compile(r"^/\*|\*/$"),  # stray script/comment text (not ".*\*/$": searched, that is quadratic in the line)
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


# A crawler that turns every inline element into a line of its own leaves numbers, quote marks
# and brackets alone on lines ("确保\n2025\n年底前"). Such a page has several lines that are a bare
# number; on it, these fragments are joined back to the sentence they were cut from.
_NUMBER_LINE = re.compile(r"^[0-9][0-9.,]*%?$")
_SPLIT_PAGE_NUMBER_LINES = 3
_PUNCT_FRAGMENT = re.compile(r"^[“”\"‘’'（）()〔〕\[\]【】《》/／、·～~—\-]+$")
_OPENS = tuple("“‘（(〔[【《")
_SENTENCE_END = tuple("。！？；!?;")
# A line that is only an enumerator ("三、", "1.", "（一）") belongs to the line after it.
_BARE_ENUMERATOR = re.compile(r"^(?:[一二三四五六七八九十百]+、|[0-9]{1,2}[.．、]|[（(][一二三四五六七八九十0-9]{1,3}[）)])$")


# A line never begins with punctuation that closes or continues a sentence: one that does was cut
# from the line before it ("（十一" / "）加强监管", "6:00" / "，预计规模").
_CONTINUES = re.compile(r"^[，。；、：？！）〕】」』”’》,;)]")
# A line ending inside a sentence (on a comma or an enumeration mark) goes on in the next one,
# unless the next one opens an item of its own. Wider than _OPENS_ITEM of qa/ingest/wrapping.py:
# after a comma "1）" opens an item, while a line cut at one width can start inside "（2）".
_OPEN_END = tuple("，、")
_ITEM_START = re.compile(
    r"^(?:[一二三四五六七八九十百]+、|[0-9]{1,2}[.．、)）](?![0-9])|[（(][一二三四五六七八九十0-9]{1,3}[）)]|[①-⑳]|[-*•·]\s"
    r"|第[一二三四五六七八九十百零〇0-9]+[条章节款项部]|附件|附表)"
)
# On a page cut at inline elements, a line starting with a unit goes with the number ending the line before.
_UNIT_START = re.compile(r"^[年月日号时分秒万亿千百元个项%‰]")


def _is_fragment(line: str) -> bool:
    return bool(_NUMBER_LINE.match(line) or _PUNCT_FRAGMENT.match(line))


def _continues(previous: str, line: str, split_page: bool) -> bool:
    """Whether a line is the rest of the sentence the previous line began."""
    if _CONTINUES.match(line) and not _PUNCT_FRAGMENT.match(line):
        return True
    if previous.endswith(_OPEN_END) and not _ITEM_START.match(line):
        return True
    return split_page and previous[-1:].isdigit() and bool(_UNIT_START.match(line))


def _enumerators_rejoined(lines: list[str]) -> list[str]:
    """An item number cut from its mark ("1" / "．落实措施") put back at the head of its item."""
    out: list[str] = []
    for line in lines:
        if out and re.fullmatch(r"[0-9]{1,2}", out[-1]) and re.match(r"[.．、][^0-9]", line):
            out[-1] += line
        else:
            out.append(line)
    return out


def join_split_lines(lines: list[str]) -> list[str]:
    """Lines cut at inline elements joined back into their sentences; bare enumerators joined to their line."""
    split_page = sum(1 for line in lines if _NUMBER_LINE.match(line)) >= _SPLIT_PAGE_NUMBER_LINES
    if split_page:
        lines = _enumerators_rejoined(lines)
    joined: list[str] = []
    glue_next = False  # the last piece added was a fragment: what follows continues its sentence
    for line in lines:
        if joined and _BARE_ENUMERATOR.match(joined[-1]) and not _BARE_ENUMERATOR.match(line):
            joined[-1] += line
            glue_next = False
            continue
        if joined and _continues(joined[-1], line, split_page):
            joined[-1] += line
            glue_next = split_page and _is_fragment(line)
            continue
        if split_page and joined and not joined[-1].endswith(_SENTENCE_END) and not _BARE_ENUMERATOR.match(line) and not _ITEM_START.match(line):
            previous = joined[-1]
            unit_after_number = len(line) == 1 and previous[-1:].isdigit()
            # A sign-off's date is split too, but the bodies' names above it end their own line.
            signed = not glue_next and is_signoff_line(previous)
            if not signed and (glue_next or _is_fragment(line) or unit_after_number or previous.endswith(_OPENS)):
                joined[-1] = previous + line
                glue_next = _is_fragment(line)
                continue
        joined.append(line)
        glue_next = split_page and _is_fragment(line)
    return joined


# A table of contents: entries run out in dot leaders to a page number, and page numbers
# ("- 1 -", "— 3 —") stand on lines of their own. Both repeat the document's headings, or number
# its pages, and are no text of it.
_LEADER_CHARS = frozenset(".．·…")
_PAGE_NUMBER = re.compile(r"^[-－—–]\s*\d{1,3}\s*[-－—–]$")
_TOC_ENTRY_CHARS = 40
# Dot leaders: this many dots before a page number, or twice as many with none ("……" or "······"
# closing a sentence is no leader).
_LEADER_DOTS = 6


def _leader(line: str) -> tuple[int, int] | None:
    """Where a line's dot leader starts and how many dots it has; None for a line without one."""
    body = line.rstrip(" 0123456789-－—–")
    numbered = len(body) < len(line) and any(ch.isdigit() for ch in line[len(body) :])
    start = len(body)
    while start > 0 and (body[start - 1] in _LEADER_CHARS or body[start - 1] == " "):
        start -= 1
    dots = sum(1 for ch in body[start:] if ch in _LEADER_CHARS)
    if dots >= (_LEADER_DOTS if numbered else 2 * _LEADER_DOTS) or (start == 0 and dots >= _LEADER_DOTS and len(body) == len(line)):
        return start, dots
    return None


def _drop_contents(lines: list[str]) -> list[str]:
    """Lines without the table of contents. A heading whose dot leader was cut to the next line
    goes with it."""
    kept: list[str] = []
    in_contents = False
    for line in lines:
        leader = _leader(line)
        if leader is None:
            kept.append(line)
            in_contents = False
            continue
        start, dots = leader
        if start == 0 and not in_contents:
            if dots < 2 * _LEADER_DOTS:
                kept.append(line)  # a short row of dots standing alone: an elision, not a leader
                continue
            while kept and _leader(kept[-1]) is not None:
                kept.pop()  # the short rows of dots that began this leader
            if kept and len(kept[-1]) <= _TOC_ENTRY_CHARS and not kept[-1].endswith(_SENTENCE_END):
                kept.pop()
        in_contents = True
    return kept


_CLEAN_PASSES = 4


def clean_text(raw: str) -> str:
    """Normalise a document's text: page noise and repeated headings removed, blank-line paragraphs.

    Idempotent: cleaning clean text changes nothing. Joining lines can reveal more to join (a text
    is seen to be wrapped only once its other cuts are mended), so cleaning repeats until nothing
    changes, a few times at most.
    """
    text = _clean_once(raw)
    for _ in range(_CLEAN_PASSES - 1):
        again = _clean_once(text)
        if again == text:
            break
        text = again
    return text


def _clean_once(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip().replace("\u3000", " ").strip()
        if not line or is_noise_line(line) or _PAGE_NUMBER.match(line):
            continue
        if _HEADER_LINE.match(line):
            line = _TRAILING_BUTTONS.sub("", line).rstrip()
        lines.append(line)
    if wrap_width(lines):  # text copied out of a PDF or saved from a terminal: lines cut at one width
        lines = join_wrapped_lines(lines)
    kept: list[str] = []
    for line in _drop_contents(join_split_lines(lines)):
        if kept and line == kept[0] and len(kept) < _HEADER_LINES:
            continue  # the page title repeated as the article title
        kept.append(line)
    return "\n\n".join(kept) + "\n" if kept else ""


# Files that are never documents and are passed over without a word: editor lock files,
# hidden files, folder thumbnails.
_IGNORED = re.compile(r"^(?:~\$|\.)|^(?:Thumbs\.db|desktop\.ini)$", re.IGNORECASE)
_UNSAFE_ID_CHARS = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class SkippedFile:
    """A file in the corpus folder that was not loaded, and why: one Chinese line that names it."""

    file: str
    reason: str


@dataclass(frozen=True)
class LoadedCorpus:
    """The documents that could be read, and the files that could not."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = ()
    # Documents read from their text alone because their JSON file could not be read (it is in `skipped`).
    without_metadata: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a build: documents by format, text encodings other than UTF-8, files skipped."""
        formats = Counter(d.file_format or "txt" for d in self.documents)
        parts = [f"{fmt} {count}" for fmt, count in sorted(formats.items())]
        line = f"读取 {len(self.documents)} 份文档（{'，'.join(parts)}）" if parts else "没有读取到文档"
        legacy = [d for d in self.documents if d.encoding not in ("", "utf-8")]
        if legacy:
            named = "、".join(f"{d.source_file}（{d.encoding.upper()}）" for d in legacy[:5])
            line += f"；非 UTF-8 编码：{named}" + ("等" if len(legacy) > 5 else "")
        if self.skipped:
            line += f"；跳过 {len(self.skipped)} 个文件：{'、'.join(s.file for s in self.skipped[:5])}"
            line += "等" if len(self.skipped) > 5 else ""
        return line


def id_from_file_name(stem: str) -> str:
    """A safe document id from a file name: characters other than letters, digits, - _ . become "-"."""
    doc_id = _UNSAFE_ID_CHARS.sub("-", stem).lstrip("-._")[:MAX_ID_CHARS].rstrip("-.")
    return doc_id if re.match(ID_PATTERN, doc_id) else "document"


def _choose(given: str | None, *found: str) -> str:
    """A field from the JSON file when it gives one (even ""), else the first value found in the file."""
    if given is not None:
        return given
    return next((value for value in found if value), "")


def load_document(
    path: Path, sidecar_path: Path | None = None, corpus_dir: Path | None = None, sidecar: Sidecar | None = None
) -> Document:
    """Load one document file, with metadata from its JSON file (if any) over what its text says.

    `sidecar`: that metadata, already read (then no file is read for it).
    Raises UnreadableFile, one Chinese line naming the file, when it cannot be read.
    """
    root = corpus_dir or path.parent
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    if sidecar is None:
        if sidecar_path is None and path.with_suffix(".json").is_file():
            sidecar_path = path.with_suffix(".json")
        sidecar = read_sidecar(sidecar_path, sidecar_path.name) if sidecar_path is not None else Sidecar()
    extracted = read_document_file(path, name)
    text = clean_text(extracted.text)
    if not text.strip():
        raise UnreadableFile(f"{name}：文件中没有可读的文字")
    found = extract_metadata(text)
    return Document(
        doc_id=sidecar.id or id_from_file_name(path.stem),
        title=_choose(sidecar.title, extracted.title, found.title, path.stem),
        text=text,
        doc_number=_choose(sidecar.doc_number, found.doc_number),
        issuers=tuple(sidecar.issuers) if sidecar.issuers is not None else found.issuers,
        date_signed=_choose(sidecar.date_signed, found.date_signed),
        date_published=_choose(sidecar.date_published, parse_date(extracted.date_published), found.date_published),
        source=sidecar.source or "",
        examples=tuple(sidecar.examples),
        topics=tuple((t.label, t.question) for t in sidecar.topics),
        source_file=name,
        file_format=extracted.file_format,
        encoding=extracted.encoding,
    )


def load_corpus(corpus_dir: Path) -> LoadedCorpus:
    """Load every document file in a folder (not its subfolders), sorted by file name.

    Each file that cannot be read is skipped with its reason, as is a document whose id
    another file already has, and a JSON file with no document beside it. A JSON file that
    cannot be read is skipped with its reason, and its document read from its text alone. Raises
    CorpusError only when the folder itself cannot be read.
    """
    if not corpus_dir.is_dir():
        raise CorpusError(f"语料文件夹 {corpus_dir} 不存在")
    try:
        files = sorted(p for p in corpus_dir.iterdir() if p.is_file() and not _IGNORED.search(p.name))
    except OSError as exc:
        raise CorpusError(f"无法读取语料文件夹 {corpus_dir}：{exc.strerror or exc}") from None
    sidecars = {p.stem: p for p in files if p.suffix.lower() == ".json"}
    documents: dict[str, Document] = {}
    skipped: list[SkippedFile] = []
    without_metadata: set[str] = set()
    used_sidecars: set[Path] = set()
    for path in files:
        if path.suffix.lower() == ".json":
            continue
        sidecar_path = sidecars.get(path.stem)
        sidecar, problem = Sidecar(), None
        if sidecar_path is not None:
            used_sidecars.add(sidecar_path)
            try:
                sidecar = read_sidecar(sidecar_path, sidecar_path.name)
            except UnreadableFile as exc:
                # A slip in the metadata does not hide the document: it is read from its text alone.
                problem = SkippedFile(sidecar_path.name, f"{exc}；这份元数据未使用，{path.name} 按正文读取")
        try:
            doc = load_document(path, corpus_dir=corpus_dir, sidecar=sidecar)
        except UnreadableFile as exc:
            skipped.append(SkippedFile(path.name, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - a reader's unforeseen failure on one file must not stop the rest
            skipped.append(SkippedFile(path.name, f"{path.name}：读取时出错（{type(exc).__name__}），已跳过"))
            continue
        if doc.doc_id in documents:
            other = documents[doc.doc_id].source_file
            skipped.append(
                SkippedFile(path.name, f"{path.name}：文档编号 {doc.doc_id} 与 {other} 重复，已跳过（请改文件名或 JSON 中的 id）")
            )
            continue
        if problem is not None:
            skipped.append(problem)
            without_metadata.add(doc.doc_id)
        documents[doc.doc_id] = doc
    for stem, sidecar_path in sidecars.items():
        if sidecar_path not in used_sidecars:
            skipped.append(
                SkippedFile(sidecar_path.name, f"{sidecar_path.name}：没有同名的文档文件（如 {stem}.txt 或 {stem}.docx），这份元数据未使用")
            )
    return LoadedCorpus(tuple(sorted(documents.values(), key=lambda d: d.doc_id)), tuple(skipped), tuple(sorted(without_metadata)))
