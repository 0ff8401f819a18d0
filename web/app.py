"""The web app: ask in Chinese, see the answer and its highlighted sources; the same answers as JSON.

`create_app(settings)` loads the model and index once (in the lifespan handler) and hands
the service to every route with `Depends(get_service)`, so tests can pass in or override
it. Pages are rendered on the server and work without JavaScript; `static/site.js` only
adds a clipboard button and scrolling. Questions are answered in worker threads, a bounded
number at once (`web/limits.py`); `/healthz` runs on the event loop and never waits for them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from qa.answer.conversation import resolve_followup
from qa.errors import QAError, QuestionError
from qa.service import BLANK_LOOKALIKES, QAService, shows_something, validate_question
from qa.settings import Settings
from qa.text.grammar import years_in
from qa.text.outline import parse_outline
from qa.types import Answer, Citation, Document
from web.limits import Admission, RequestLimits
from web.ratelimit import limit_rate
from web.records import Records, get_records

WEB_DIR = Path(__file__).resolve().parent
MAX_HISTORY = 5  # earlier questions carried in the page URL as repeated `h` parameters
ANSWER_CACHE_SIZE = 256  # answers to earlier questions kept per app, so a page view does not redo them
SERVER_ERROR_MESSAGE = "服务器内部错误，请稍后再试。"

logger = logging.getLogger(__name__)

MAX_SUGGESTIONS = 8  # example questions and covered topics shown at most


def suggestions(documents: Iterable[Document]) -> tuple[list[str], list[tuple[str, str]]]:
    """Example questions (for the empty page) and covered topics (for "not found"), from the corpus.

    Each document's metadata may list `examples` and `topics`; a document without them is
    offered by its title.
    """
    docs = list(documents)
    examples: list[str] = []
    # Round by round, one example of each document: the examples show the whole library, not its first file.
    for round_ in range(max((len(d.examples) for d in docs), default=0)):
        examples += [d.examples[round_] for d in docs if round_ < len(d.examples) and d.examples[round_] not in examples]
    topics: list[tuple[str, str]] = []
    for doc in docs:
        topics += [t for t in doc.topics if t not in topics] or [(doc.title, doc.title)]
    return examples[:MAX_SUGGESTIONS], topics[:MAX_SUGGESTIONS]


def nearest_first(documents: Mapping[str, Document], answer: Answer) -> list[Document]:
    """The library with the documents a refused question's search came closest to first."""
    near = list(dict.fromkeys(p.chunk.doc_id for p in answer.passages if p.chunk.doc_id in documents))
    return [documents[d] for d in near] + [doc for doc_id, doc in documents.items() if doc_id not in near]


# Only our own files on our pages; /docs (Swagger from a CDN) is left alone.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True))


# ---------------------------------------------------------------------------------------------
# What a page shows: pure functions over answers and documents.


@dataclass(frozen=True)
class Quote:
    """One cited span inside a source card."""

    start: int
    end: int
    href: str


@dataclass(frozen=True)
class Piece:
    """A run of passage or document text, highlighted when it is (part of) a quote."""

    text: str
    quote: Quote | None = None
    anchor: str = ""  # the element id of a highlighted run that starts a quote


@dataclass(frozen=True)
class SourceCard:
    """One passage with its quotes highlighted, where it comes from and how to cite it."""

    number: int
    doc_id: str
    title: str
    doc_number: str
    section: str
    pieces: tuple[Piece, ...]
    href: str
    copy_text: str
    cut_before: bool  # the passage starts inside a paragraph
    cut_after: bool
    same_document: bool = False  # an earlier card names this document already: its title is not repeated


_FIGURE = re.compile(
    r"(?:超过|达到|不少于|不低于|不超过|约)?\d+(?:\.\d+)?(?:%|％|[项家个名条部类种倍亿万元]+)?(?:以上|以下|左右|以内)?"
)
_JOINERS = {"list": "；", "number": "……"}
_ITEM_MORE = 120  # characters of an item's sentence shown after its quoted head
# An item that numbers itself: 一是, （一）, 1., 第三条. Shown as it is, not numbered twice.
_OWN_NUMBER = re.compile(r"^\s*(?:[一二三四五六七八九十]+是|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[.、．]|[一二三四五六七八九十]+、|第[一二三四五六七八九十百\d]+条)")  # how the answerer joins several quotes into one answer


def figures(text: str) -> list[str]:
    """The figures in a text ("2000项以上", "超过90%"), not counting years."""
    return [m.group() for m in _FIGURE.finditer(text) if text[m.end() : m.end() + 1] != "年"]


@dataclass(frozen=True)
class AnswerLayout:
    """How to show an answer: a big figure, a lead-in ("到2025年") and list items, or just its text."""

    headline: str = ""
    lead: str = ""
    items: tuple[str, ...] = ()
    numbered: bool = True  # False when the items carry their own numbers (一是, （一）, 1.)


def _whole_item(document: Document | None, citation: Citation) -> str:
    """A list item as the reader needs it: the quoted head ("一是加强组织领导") with the rest of its sentence."""
    if document is None:
        return citation.text
    end = citation.end
    text = document.text
    while end < len(text) and end - citation.end < _ITEM_MORE and text[end] not in "。；;\n":
        end += 1
    return text[citation.start : end]


def answer_layout(answer: Answer, documents: Mapping[str, Document] | None = None) -> AnswerLayout:
    """A number answer with one figure shows it large; an answer made of several quoted items shows them as a list."""
    quotes = [c.text for c in answer.citations]
    joiner = _JOINERS.get(answer.answer_type)
    if not joiner or len(quotes) < 2 or answer.answer != joiner.join(quotes):
        found = figures(answer.answer) if answer.answer_type == "number" else []
        return AnswerLayout(headline=found[0] if len(found) == 1 else "")
    if answer.answer_type == "list":
        own_numbers = all(_OWN_NUMBER.match(q) for q in quotes)
        shown = tuple(_whole_item(documents.get(c.doc_id), c) for c in answer.citations) if documents else tuple(quotes)
        return AnswerLayout(items=shown, numbered=not own_numbers)
    # Several targets: the quotes before the first figure ("到2025年") lead in, the rest are the items.
    first = next((n for n, q in enumerate(quotes) if figures(q)), 0)
    items = quotes[first:]
    if len(items) == 1:
        return AnswerLayout(headline=figures(items[0])[0])
    return AnswerLayout(lead="".join(quotes[:first]), items=tuple(items))


@dataclass
class Turn:
    """One question of the conversation: what was typed, what was asked, and the answer."""

    asked: str
    resolved: str
    answer: Answer
    sources: list[SourceCard] = field(default_factory=list)
    layout: AnswerLayout = field(default_factory=AnswerLayout)

    @property
    def understood(self) -> str:
        """The question as answered, when it differs from what was typed: a follow-up made whole, typos corrected."""
        understood = self.answer.interpreted or self.resolved
        return understood if understood != self.asked else ""


def highlight(
    text: str, offset: int, spans: Iterable[tuple[int, int]], link: Callable[[int, int], str] | None = None
) -> list[Piece]:
    """`text` (which starts at `offset` in its document) cut into plain and highlighted pieces.

    Spans are absolute document offsets; they are clipped to the text and overlaps merged.
    A highlighted piece gets the anchor `c-START-END` of the span it starts, and a link from
    `link(start, end)` when given.
    """
    end_of_text = offset + len(text)
    merged: list[tuple[int, int, int, int]] = []  # piece start, piece end, span start, span end
    for span_start, span_end in sorted(set(spans)):
        start, end = max(span_start, offset), min(span_end, end_of_text)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), merged[-1][2], merged[-1][3])
        else:
            merged.append((start, end, span_start, span_end))
    pieces: list[Piece] = []
    cursor = offset
    for start, end, span_start, span_end in merged:
        if start > cursor:
            pieces.append(Piece(text[cursor - offset : start - offset]))
        quote = Quote(span_start, span_end, link(span_start, span_end) if link else "")
        anchor = f"c-{span_start}-{span_end}" if start == span_start else ""
        pieces.append(Piece(text[start - offset : end - offset], quote, anchor))
        cursor = end
    if cursor < end_of_text:
        pieces.append(Piece(text[cursor - offset :]))
    return pieces


def document_href(doc_id: str, spans: Sequence[tuple[int, int]], back: str = "") -> str:
    """The document page with these spans highlighted, scrolled to the first."""
    params: list[tuple[str, str]] = [("hl", f"{s}-{e}") for s, e in spans]
    if back:
        params.append(("ret", back))
    query = f"?{urlencode(params)}" if params else ""
    anchor = f"#c-{spans[0][0]}-{spans[0][1]}" if spans else ""
    return f"/documents/{doc_id}{query}{anchor}"


def citation_text(quotes: Sequence[str], document: Document, section: str, url: str) -> str:
    """A quotation ready to paste: the quoted words, the document with its number, the section, a link."""
    source = document.title + (f"（{document.doc_number}）" if document.doc_number else "")
    # Each quote in its own marks, one a line: run together they would read as one sentence.
    lines = [*(f"“{q}”" for q in quotes), f"——{source}，{section}"]
    if url:
        lines.append(f"原文链接：{url}")
    return "\n".join(lines)


def _quote_link(doc_id: str, back: str) -> Callable[[int, int], str]:
    return lambda start, end: document_href(doc_id, [(start, end)], back)


def source_cards(answer: Answer, documents: dict[str, Document], back: str = "", base_url: str = "") -> list[SourceCard]:
    """The answer's citations grouped by the passage they come from, in the order cited."""
    # Passages that overlap (or repeat) one already shown join that card: the same text is not shown twice.
    groups: list[tuple[str, int, int, list[Citation]]] = []
    for citation in answer.citations:
        start, end = citation.passage_start, citation.passage_end
        at = next((n for n, g in enumerate(groups) if g[0] == citation.doc_id and start < g[2] and g[1] < end), None)
        if at is None:
            groups.append((citation.doc_id, start, end, [citation]))
        else:
            doc_id, g_start, g_end, cited = groups[at]
            groups[at] = (doc_id, min(g_start, start), max(g_end, end), [*cited, citation])
    cards: list[SourceCard] = []
    for number, (doc_id, p_start, p_end, citations) in enumerate(groups, start=1):
        document = documents[doc_id]
        # A quote outside its passage would be a bug upstream; widen the passage rather than hide it.
        p_start = min([p_start, *(c.start for c in citations)])
        p_end = max([p_end, *(c.end for c in citations)])
        spans = [(c.start, c.end) for c in citations]
        pieces = highlight(document.text[p_start:p_end], p_start, spans, _quote_link(doc_id, back))
        href = document_href(doc_id, spans, back)
        cards.append(
            SourceCard(
                number=number,
                doc_id=doc_id,
                title=document.title,
                doc_number=document.doc_number,
                section=citations[0].section,
                pieces=tuple(pieces),
                href=href,
                copy_text=citation_text(
                    [c.text for c in citations], document, citations[0].section, base_url + document_href(doc_id, spans)
                ),
                cut_before=p_start > 0 and document.text[p_start - 1] != "\n",
                cut_after=p_end < len(document.text) and document.text[p_end] != "\n",
                same_document=any(card.doc_id == doc_id for card in cards),
            )
        )
    return cards


def parse_spans(values: Iterable[str], length: int) -> list[tuple[int, int]]:
    """Spans from `hl=START-END` values, keeping only well-formed ones inside the document."""
    spans = []
    for value in values:
        match = re.fullmatch(r"(\d{1,9})-(\d{1,9})", value.strip())
        if match:
            start, end = int(match.group(1)), int(match.group(2))
            if 0 <= start < end <= length:
                spans.append((start, end))
    return spans


def safe_back_link(value: str | None) -> str:
    """A link back to an answer page on this site, or the home page (never another site).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/",
    a tab, then "/evil.example" would become "//evil.example", another site: any of
    those, any other control character or whitespace sends the link home. What is left
    must be a path on this site: no scheme, no host, a single leading slash.
    """
    if not value or len(value) >= 8000 or "\\" in value:
        return "/"
    if any(ch.isspace() or ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    # "///evil.example" splits into an empty netloc and the path "/evil.example": check the text too.
    single_slash = value.startswith("/") and not value.startswith("//")
    if parts.scheme or parts.netloc or not single_slash or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return value


def ask_href(question: str, history: Sequence[str] = (), docs: Sequence[str] = ()) -> str:
    """The answer page for a question, continuing a conversation, within the documents `docs` (all when none)."""
    return "/?" + urlencode([("q", question), *(("h", h) for h in history), *(("doc", d) for d in docs)])


# ---------------------------------------------------------------------------------------------
# Dependencies and the conversation.


async def get_service(request: Request) -> QAService:
    """The loaded service; 503 while it is still loading. (Async: no worker thread needed.)"""
    watcher = getattr(request.app.state, "watcher", None)
    if watcher is not None:
        watcher.poll()  # a newly built index is loaded in the background and swapped in
    service: QAService | None = getattr(request.app.state, "service", None)
    if service is None:
        raise HTTPException(status_code=503, detail="服务正在启动，请稍后再试。")
    return service


ServiceDep = Annotated[QAService, Depends(get_service)]


class AnswerCache:
    """A small thread-safe LRU of answers by the (self-contained) question asked."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self.size = size
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, question: str, compute: Callable[[], Answer], fresh: bool = False) -> Answer:
        """The cached answer to `question`, or `compute()`'s, remembered (errors are not).

        `fresh` always computes, and remembers the new answer for later.
        """
        if not fresh:
            with self._lock:
                answer = self._answers.get(question)
                if answer is not None:
                    self._answers.move_to_end(question)
                    return answer
        answer = compute()
        with self._lock:
            self._answers[question] = answer
            self._answers.move_to_end(question)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer


def validate_previous(previous: str | None, max_chars: int) -> str | None:
    """The previous question checked like a question (length, characters); one with nothing visible means none."""
    if previous is None or not any(shows_something(ch) for ch in previous):
        return None
    try:
        return validate_question(previous, max_chars)
    except QuestionError as exc:
        raise QuestionError(f"上一个问题（previous）有误：{exc}") from None


def ask_in_context(
    service: QAService,
    asked: object,
    previous: str | None,
    top_k: int | None = None,
    retriever: str | None = None,
    cache: AnswerCache | None = None,
    fresh: bool = True,
    doc_ids: Sequence[str] | None = None,
) -> tuple[str, Answer]:
    """Answer a question as a follow-up to the previous one: (the self-contained question, answer).

    With a cache (a page's turns, asked with the default settings), the answer is
    remembered, and unless `fresh` an answer remembered before is used instead of asking.
    """
    max_chars = service.settings.max_question_chars
    text = validate_question(asked, max_chars)
    resolved = resolve_followup(text, validate_previous(previous, max_chars))
    scope: dict[str, Any] = {"doc_ids": list(doc_ids)} if doc_ids else {}
    if cache is not None and top_k is None and retriever is None:
        # Keyed by the index too: after a rebuild, remembered answers of the old library are not reused.
        key = "\x00".join([service.index.manifest.corpus_fingerprint, *(doc_ids or []), resolved])
        return resolved, cache.get(key, lambda: service.ask(resolved, **scope), fresh=fresh)
    return resolved, service.ask(resolved, top_k=top_k, retriever=retriever, **scope)


def build_turn(
    service: QAService,
    asked: str,
    previous: str | None,
    back: str,
    base_url: str,
    cache: AnswerCache | None = None,
    fresh: bool = True,
    doc_ids: Sequence[str] = (),
) -> Turn:
    resolved, answer = ask_in_context(service, asked, previous, cache=cache, fresh=fresh, doc_ids=doc_ids)
    return Turn(
        asked=asked.strip(),
        resolved=resolved,
        answer=answer,
        sources=source_cards(answer, service.index.documents, back, base_url),
        layout=answer_layout(answer, service.index.documents),
    )


def earlier_questions(values: Iterable[str], max_chars: int) -> list[str]:
    """The last few `h` values that are questions at all: blank, too long or damaged ones dropped."""
    kept = []
    for value in values:
        try:
            kept.append(validate_question(value, max_chars))
        except QuestionError:
            continue  # a damaged earlier question is dropped, not shown as an error
    return kept[-MAX_HISTORY:]


def next_history(turns: Sequence[Turn]) -> list[str]:
    """The questions to carry in the form: the last few as typed, the oldest kept self-contained."""
    kept = list(turns[-MAX_HISTORY:])
    if not kept:
        return []
    return [kept[0].resolved, *(t.asked for t in kept[1:])]


# ---------------------------------------------------------------------------------------------
# Pages.

pages = APIRouter(include_in_schema=False)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    service: QAService | None = getattr(request.app.state, "service", None)
    documents = service.index.documents if service else {}
    examples, coverage = suggestions(documents.values())
    scope: list[str] = context.get("scope", [])
    from web.library import library_summary  # here: web.library builds on this module

    context = {
        "max_chars": settings.max_question_chars,
        "examples": examples,
        "coverage": coverage,
        # "Not found" offers what the library covers, starting with the documents nearest the question.
        "coverage_for": lambda answer: suggestions(nearest_first(documents, answer))[1],
        "ask_href": lambda q, h=(): ask_href(q, h, scope),
        "library": list(documents.values()),
        "library_summary": library_summary(documents.values()),
        "scope": scope,
        **context,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=PAGE_HEADERS)


@pages.get("/", response_class=HTMLResponse, dependencies=[Depends(limit_rate)])
async def home(
    request: Request,
    service: ServiceDep,
    records: Annotated[Records, Depends(get_records)],
    q: str | None = None,
    h: Annotated[list[str] | None, Query()] = None,
    doc: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    """The question page; with `q`, the answer, after the earlier questions `h` in order, within the documents `doc`."""
    scope = list(dict.fromkeys(d for d in doc or [] if d))
    if q is None and not h:
        return conversation_page(request, service, records, q, [], scope)  # nothing to answer
    admission: Admission = request.app.state.admission
    return await admission.run(lambda: conversation_page(request, service, records, q, h or [], scope))


def example_question(service: QAService, turn: Turn | None) -> str:
    """The example in the question box: a follow-up that does find an answer, else one of the library's own examples.

    After a question about one year, "那2030年呢？" is offered only for a year of the same
    document whose follow-up the documents answer (checked here, at most twice).
    """
    if turn is not None and turn.answer.found:
        asked = set(years_in(turn.resolved))
        text = service.index.documents[turn.answer.doc_id].text if turn.answer.doc_id in service.index.documents else ""
        others = [y for y in years_in(text) if asked and y not in asked][:2]
        for year in others:
            followup = f"那{year}年呢？"
            try:
                if service.ask(resolve_followup(followup, turn.resolved)).found:
                    return followup
            except QAError:
                break
    examples, _ = suggestions(service.index.documents.values())
    return examples[0] if examples else ""


def conversation_page(
    request: Request, service: QAService, records: Records, q: str | None, h: list[str], scope: Sequence[str] = ()
) -> HTMLResponse:
    """The page answering `q` after the earlier questions `h`.

    Earlier answers come from the app's answer cache; the new question is always answered
    afresh (and its answer cached: on the next page it is an earlier question).
    """
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base_url = str(request.base_url).rstrip("/")
    cache: AnswerCache = request.app.state.answer_cache
    turns: list[Turn] = []
    for asked in earlier_questions(h, service.settings.max_question_chars):
        try:
            previous = turns[-1].resolved if turns else None
            turns.append(build_turn(service, asked, previous, back, base_url, cache, fresh=False, doc_ids=scope))
        except QuestionError:
            continue  # a damaged earlier question is dropped, not shown as an error
    error = ""
    current: Turn | None = None
    if q is not None:
        try:
            current = build_turn(service, q, turns[-1].resolved if turns else None, back, base_url, cache, doc_ids=scope)
        except QuestionError as exc:
            error = str(exc)
    thread = [*turns, current] if current else turns
    answer_id = records.log_question(service, current.asked, current.resolved, current.answer, "page") if current else ""
    context = {
        "earlier": turns,
        "current": current,
        "answer_id": answer_id,
        "back": back,
        "error": error,
        "draft": q if error else "",
        "history": next_history(thread),
        "example": example_question(service, current or (turns[-1] if turns else None)),
        "scope": [d for d in scope if d in service.index.documents],
    }
    return render(request, "index.html", context, status_code=400 if error else 200)


@pages.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(
    request: Request,
    doc_id: str,
    service: ServiceDep,
    hl: Annotated[list[str] | None, Query()] = None,
    ret: str | None = None,
) -> HTMLResponse:
    """A whole document, with the cited spans highlighted (`?hl=START-END`, repeatable)."""
    document = service.index.documents.get(doc_id)
    if document is None:
        raise HTTPException(status_code=404, detail=f"没有找到编号为“{doc_id}”的文件。")
    spans = parse_spans(hl or [], len(document.text))
    blocks = [
        ("part" if line.style == "part" else "heading" if line.is_heading else "body",
         highlight(document.text[line.start : line.end], line.start, spans))
        for line in parse_outline(document.text)
        # The title line is already the page's heading, unless it is what was cited.
        if document.text[line.start : line.end].strip() != document.title
        or any(s < line.end and e > line.start for s, e in spans)
    ]
    context = {
        "document": document,
        "blocks": blocks,
        "spans": spans,
        "back": safe_back_link(ret),
        "has_back": ret is not None,
        "ask_here": ask_scope_href(doc_id),
    }
    return render(request, "document.html", context)


def ask_scope_href(doc_id: str) -> str:
    """The question page limited to one document."""
    return "/?" + urlencode([("doc", doc_id)]) + "#q"


# ---------------------------------------------------------------------------------------------
# The JSON API.

api = APIRouter(tags=["api"])

# What the schema declares of a question besides its length, as `validate_question` has it: no
# control character but tab and line breaks, and at least one character that shows something (a
# letter, digit, punctuation mark or symbol that is not a blank filler). `previous` only may not hold
# control characters: one with nothing visible means none.
CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_BLANK_FILLERS = "".join(f"\\u{ord(ch):04x}" for ch in sorted(BLANK_LOOKALIKES))
QUESTION_PATTERN = rf"^[^{CONTROL_CHARS}]*(?![{_BLANK_FILLERS}])[\p{{L}}\p{{N}}\p{{P}}\p{{S}}][^{CONTROL_CHARS}]*$"
PREVIOUS_PATTERN = rf"^[^{CONTROL_CHARS}]*$"
_CONTROL = re.compile(f"[{CONTROL_CHARS}]")


def check_as_sent(text: str | None, max_chars: int) -> None:
    """The schema's limits on the text as sent (the service measures it stripped), and well-formed text."""
    if text is None:
        return
    if len(text) > max_chars:
        raise QuestionError(f"问题太长（{len(text)}字），请控制在{max_chars}字以内。")
    if _CONTROL.search(text):
        raise QuestionError("问题包含无法识别的控制字符，请只输入文字。")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\\ud800"): not text
        raise QuestionError("问题包含无法识别的字符，请检查输入的文字编码。") from None


class AskRequest(BaseModel):
    """A question; `previous` makes it a follow-up ("那未来产业呢？") to an earlier question.

    Strict: `top_k` must be a JSON integer ("5", 5.5 and true are refused; 5.0 is the number 5,
    an integer to JSON Schema, and is taken as 5). The question's
    length limit is a setting: the schema states the configured one and the patterns above
    (`openapi_with_limits`), and `validate_question` enforces them with the same Chinese
    messages as the pages. Unknown `doc_ids` are 404; an empty list is no restriction.
    """

    model_config = ConfigDict(strict=True)

    question: str = Field(description="用中文提出的问题", examples=["新兴产业包括哪些领域？"])
    top_k: int | None = Field(default=None, ge=1, le=50, description="返回的段落数（默认取设置中的 top_k）")
    previous: str | None = Field(
        default=None, description="上一个问题，用于理解追问（长度限制与问题相同）", examples=["新兴产业包括哪些领域？"]
    )
    retriever: Literal["hybrid", "dense", "bm25"] | None = Field(default=None, description="检索方式")
    doc_ids: list[str] | None = Field(
        default=None, description="只在这些文档中查找答案（文档编号见 /api/documents）；不给或为空时在全部文档中查找", examples=[["miit-2023-118"]]
    )

    @field_validator("top_k", mode="before")
    @classmethod
    def whole_number(cls, value: object) -> object:
        return int(value) if isinstance(value, float) and value.is_integer() else value


class PassageOut(BaseModel):
    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


class AnswerOut(BaseModel):
    """`Answer.to_json()`, the object `qa ask --json` prints, with the answer id and links to the document pages."""

    answer_id: str = Field(default="", description="回答编号，用于 /api/feedback；未开启提问记录时为空")
    question: str = Field(description="发送的问题（追问时为原话）")
    found: bool
    answer: str
    answer_type: Literal["number", "list", "text", "none"]
    citations: list[Citation]  # the library's own dataclass, so the schema cannot drift from it
    passages: list[PassageOut]
    interpreted: str = Field(default="", description="实际回答的问题（追问补全、纠正错别字后），与发送的问题相同时为空")
    latency_ms: float


class ErrorOut(BaseModel):
    detail: str


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    doc_number: str
    issuers: list[str]
    date_signed: str
    date_published: str
    source: str
    examples: list[str] = []
    topics: list[tuple[str, str]] = []
    length: int


class LibraryDocumentOut(DocumentOut):
    passages: int = Field(description="建立索引时分成的段落数")


class SkippedOut(BaseModel):
    file: str
    reason: str = Field(description="无法读取的原因（一行中文，写明文件名）")


class LibraryOut(BaseModel):
    documents: list[LibraryDocumentOut]
    skipped: list[SkippedOut] = Field(description="语料文件夹中上次建立索引时跳过的文件及原因")
    summary: str = Field(description="一句话说明文档库收录了什么")


class DocumentWithText(DocumentOut):
    text: str


@api.post(
    "/api/ask",
    response_model=AnswerOut,
    responses={
        400: {"model": ErrorOut, "description": "问题或上一个问题为空、过长或无法识别"},
        404: {"model": ErrorOut, "description": "doc_ids 中有文档库里没有的文件编号"},
        413: {"model": ErrorOut, "description": "请求内容太大"},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut, "description": "请求太频繁"},
        500: {"model": ErrorOut, "description": "服务器内部错误"},
        503: {"model": ErrorOut, "description": "服务繁忙（同时处理的问题已满），请按 Retry-After 稍后再试"},
    },
    summary="回答一个问题",
    dependencies=[Depends(limit_rate)],
)
async def api_ask(
    body: AskRequest, request: Request, service: ServiceDep, records: Annotated[Records, Depends(get_records)]
) -> JSONResponse:
    """Answer a question with exact quotes and their character spans."""
    admission: Admission = request.app.state.admission
    max_chars = service.settings.max_question_chars
    check_as_sent(body.question, max_chars)
    try:
        check_as_sent(body.previous, max_chars)
    except QuestionError as exc:
        raise QuestionError(f"上一个问题（previous）有误：{exc}") from None
    unknown = [doc_id for doc_id in body.doc_ids or () if doc_id not in service.index.documents]
    if unknown:
        raise HTTPException(status_code=404, detail=f"没有找到编号为“{'、'.join(unknown)}”的文件。")

    def answer_and_log() -> tuple[str, Answer, str]:  # in a worker thread: the model and the database write
        resolved, answer = ask_in_context(
            service, body.question, body.previous, top_k=body.top_k, retriever=body.retriever, doc_ids=body.doc_ids
        )
        return resolved, answer, records.log_question(service, body.question, resolved, answer, "api")

    resolved, answer, answer_id = await admission.run(answer_and_log)
    base_url = str(request.base_url).rstrip("/")
    return JSONResponse(answer_payload(answer, body.question.strip(), resolved, base_url, answer_id))


def answer_payload(answer: Answer, sent: str, resolved: str, base_url: str, answer_id: str = "") -> dict[str, Any]:
    """The API's answer: `question` as sent, `interpreted` as answered, each citation linked to its document page."""
    data = answer.to_json()
    understood = answer.interpreted or resolved
    for out, citation in zip(data["citations"], answer.citations, strict=True):
        out["url"] = base_url + document_href(citation.doc_id, [(citation.start, citation.end)])
    return {"answer_id": answer_id, **data, "question": sent, "interpreted": understood if understood != sent else ""}


@api.get("/api/documents", response_model=LibraryOut, summary="列出文件（以及无法读取而跳过的文件）")
def api_documents(service: ServiceDep) -> JSONResponse:
    from web.library import library_summary, passages_per_document

    counts = passages_per_document(service)
    documents = service.index.documents.values()
    return JSONResponse(
        {
            "documents": [{**d.metadata(), "passages": counts[d.doc_id]} for d in documents],
            "skipped": service.index.manifest.skipped,
            "summary": library_summary(documents),
        }
    )


@api.get(
    "/api/documents/{doc_id}", response_model=DocumentWithText, responses={404: {"model": ErrorOut}}, summary="一份文件及其全文"
)
def api_document(doc_id: str, service: ServiceDep) -> JSONResponse:
    document = service.index.documents.get(doc_id)
    if document is None:
        raise HTTPException(status_code=404, detail=f"没有找到编号为“{doc_id}”的文件。")
    return JSONResponse({**document.metadata(), "text": document.text})


@api.get("/healthz", summary="服务状态")
async def healthz(service: ServiceDep) -> dict[str, Any]:
    """200 once the model and index are loaded; on the event loop, so it answers whatever the load."""
    manifest = service.index.manifest
    return {
        "status": "ok",
        "model": manifest.model,
        "documents": len(service.index.documents),
        "chunks": len(service.index.chunks),
        "index_built_at": manifest.built_at,
    }


# ---------------------------------------------------------------------------------------------
# Errors: JSON for the API, a Chinese page for people.

_STATUS_MESSAGES = {
    400: "请求有误。",
    404: "您要找的页面不存在。",
    405: "不支持这种请求方式。",
    413: "请求内容太大。",
    414: "链接太长。",
    503: "服务暂时不可用，请稍后再试。",
}
# The framework's own English details, said in Chinese; any other English detail gets the status's message.
_FRAMEWORK_DETAILS = {"There was an error parsing the body": "请求内容无法解析，请发送 UTF-8 编码的 JSON。"}
_API_STATUS_MESSAGES = {404: "请求的地址不存在。", 405: "这个地址不支持这种请求方式。"}
_TYPE_MESSAGES = {
    "missing": "缺少此项",
    "string_type": "应为文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "literal_error": "取值不在允许范围内",
    "json_invalid": "不是有效的 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "string_too_short": "太短",
    "string_too_long": "太长",
}
INVALID_VALUE = "取值无效"


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/api", "/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "html" not in accept


def error_response(request: Request, status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    context = {"status_code": status_code, "message": message}
    response = render(request, "error.html", context, status_code=status_code)
    if headers:
        response.headers.update(headers)
    return response


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    # Our own details are Chinese; the framework's English ones ("Not Found") never reach the user.
    detail = _FRAMEWORK_DETAILS.get(detail, detail if _is_chinese(detail) else "")
    messages = {**_STATUS_MESSAGES, **_API_STATUS_MESSAGES} if wants_json(request) else _STATUS_MESSAGES
    message = detail or messages.get(exc.status_code, "请求有误。")
    return error_response(request, exc.status_code, message, dict(exc.headers) if exc.headers else None)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        reason = _TYPE_MESSAGES.get(str(error.get("type")), INVALID_VALUE)
        problems.append(f"{where}：{reason}" if where else reason)
    return error_response(request, 422, "请求格式不正确：" + "；".join(problems or ["无法解析"]))


async def on_qa_error(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, str(exc))


async def on_server_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: logged, and a plain Chinese 500 for the user, never a traceback."""
    logger.error("%s %s 处理失败", request.method, request.url.path, exc_info=exc)
    try:
        return error_response(request, 500, SERVER_ERROR_MESSAGE)
    except Exception:  # the error page itself failed: say it without the templates
        logger.exception("错误页面生成失败")
        if wants_json(request):
            return JSONResponse({"detail": SERVER_ERROR_MESSAGE}, status_code=500)
        page = (
            f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>出错了</title><p>{SERVER_ERROR_MESSAGE}</p></html>'
        )
        return HTMLResponse(page, status_code=500, headers=PAGE_HEADERS)


async def reject_request(scope: Scope, receive: Receive, send: Send, status_code: int, message: str) -> None:
    """An error answered by the request limits, before any route: the same JSON or page as the others."""
    await error_response(Request(scope, receive), status_code, message)(scope, receive, send)


def openapi_with_limits(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI schema, stating the limits the server holds requests to.

    The question's length limit (a setting) and characters on `question` and `previous`;
    what feedback needs (`feedback_schema`); and the one shape of every 422, `{"detail": "..."}`
    in Chinese (`on_validation_error`), where FastAPI would declare its own list of errors.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = FastAPI.openapi(app)  # cached in app.openapi_schema
    fields = schema["components"]["schemas"]["AskRequest"]["properties"]
    fields["question"].update(minLength=1, maxLength=settings.max_question_chars, pattern=QUESTION_PATTERN)
    for text in fields["previous"].get("anyOf", []):  # a string or null; nothing visible means none
        if text.get("type") == "string":
            text.update(maxLength=settings.max_question_chars, pattern=PREVIOUS_PATTERN)
    from web.staff import feedback_schema  # here: the staff routes build on this module

    feedback_schema(schema, settings)
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        if "422" in operation.get("responses", {}):
            operation["responses"]["422"]["content"] = {"application/json": {"schema": error}}
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    schema["components"]["schemas"].setdefault("ErrorOut", ErrorOut.model_json_schema())
    return schema


# ---------------------------------------------------------------------------------------------


def create_app(settings: Settings, service: QAService | None = None) -> FastAPI:
    """The web app over one service: loaded once at startup, or the one given (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.service is None:
            app.state.service = QAService.load(settings)
            app.state.watcher.target = app.state.watcher.link_target()  # the version just loaded
        yield
        app.state.builder.wait()
        app.state.records.close()

    app = FastAPI(
        title="政策问答 policy-qa",
        description="用中文提问，答案摘自政策文件原文，并给出精确的引用位置。",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.answer_cache = AnswerCache(ANSWER_CACHE_SIZE)
    app.state.admission = Admission(settings.max_in_flight, workers=os.cpu_count() or 1)
    from web.library import UPLOAD_API, UPLOAD_PAGE, install_library

    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_url_bytes=settings.max_url_bytes,
        reject=reject_request,
        upload_paths=(UPLOAD_PAGE, UPLOAD_API),
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.openapi = lambda: openapi_with_limits(app, settings)  # type: ignore[method-assign]
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(pages)
    app.include_router(api)
    from web.staff import install_staff  # here: the staff routes build on this module

    install_staff(app, settings)
    install_library(app, settings)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(QAError, on_qa_error)
    # Starlette answers with this, then re-raises so the server logs it too.
    app.add_exception_handler(Exception, on_server_error)
    return app
