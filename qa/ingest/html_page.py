"""A saved policy web page to text: the article's lines, its title and date, without the site around it.

The page is parsed with selectolax (a small, fast HTML5 parser). Page furniture is dropped
by tag (script, nav, footer, forms…) and by navigation-like class or id names; the article
is the element holding most of the paragraph text that is not link text; block elements
and <br> become line breaks, so headings and numbered lines stay lines of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from qa.ingest.metadata import is_dated_line, is_signoff_line, label_pattern, looks_like_title

_DROPPED = {
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "form", "select", "button", "input", "textarea", "nav", "aside", "footer", "head", "map",
}  # fmt: skip
_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table",
    "tbody", "thead", "tfoot", "section", "article", "main", "blockquote", "pre", "center", "header",
    "address", "figure", "figcaption", "hr", "caption", "body", "html",
}  # fmt: skip
_CELLS = {"td", "th"}
# Class or id words of site furniture: menus, breadcrumbs ("当前位置"), share bars, footers.
_FURNITURE = re.compile(
    r"(?:^|[-_\s])(?:nav|navbar|menu|submenu|footer|foot|bottom|breadcrumbs?|crumbs?|sidebar|share|"
    r"copyright|login|search|topbar|toolbar|banner|friendlinks?|qrcode|position|location|dqwz)(?:$|[-_\s\d])",
    re.IGNORECASE,
)
# The publication date as a page shows it: "发布时间：2023-08-22 15:09", "2023年08月22日", "2023-08-22".
_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
_LABELLED_DATE = re.compile(rf"发布(?:时间|日期)\s*[:：]\s*{_DATE}")
_BARE_DATE = re.compile(_DATE)
_BYLINE_DATE = re.compile(rf"(?:(?:时间|日期)\s*[:：]\s*{_DATE}|^\s*{_DATE}\s*$)")
_FIELD_LINE = re.compile(label_pattern(("发文机关", "发文字号", "成文日期", "发布日期", "发布时间")))
_TITLE_META = ("ArticleTitle", "articletitle", "og:title", "title")
_DATE_META = ("PubDate", "pubdate", "publishdate", "article:published_time", "firstpublishedtime")
_TITLE_FIELD = re.compile(r"^标[ \t\u3000\u00a0]*题\s*[:：]\s*(.+?)(?:\s{2,}|$)")
_TITLE_SEPARATORS = re.compile(r"\s*(?:[-_|｜—]{1,2})\s*")
_SPACES = re.compile(r"[ \t\r\n\f]+")


@dataclass(frozen=True)
class Page:
    text: str  # the article as lines: title, date line, then the body
    title: str
    date_published: str  # as the page writes it; the metadata parser makes it a date


def looks_like_html(text: str) -> bool:
    """True for text that is a saved web page (it starts with a doctype or an <html> tag)."""
    head = text.lstrip("\ufeff \t\r\n")[:200].lower()
    return head.startswith(("<!doctype html", "<html")) or (head.startswith("<?xml") and "<html" in head)


def declared_charset(data: bytes) -> str | None:
    """The encoding a page names in its <meta> tags, if any."""
    match = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", data[:4096], re.IGNORECASE)
    return match.group(1).decode("ascii") if match else None


def _meta(tree: LexborHTMLParser, names: tuple[str, ...]) -> str:
    for name in names:
        for attr in ("name", "property"):
            node = tree.css_first(f'meta[{attr}="{name}"]')
            if node is not None and (node.attributes.get("content") or "").strip():
                return (node.attributes.get("content") or "").strip()
    return ""


def _children(node: LexborNode) -> list[LexborNode]:
    found = []
    child = node.child
    while child is not None:
        found.append(child)
        child = child.next
    return found


def _is_furniture(node: LexborNode) -> bool:
    tag = node.tag or ""
    if tag in _DROPPED:
        return True
    if not node.is_element_node:
        return False
    attrs = node.attributes
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    if _FURNITURE.search(names):
        return True
    # A site header; an article's own <header> holds its title and stays.
    return tag == "header" and node.css_first("h1, h2") is None


def _remove_furniture(root: LexborNode) -> None:
    """Drop furniture elements; one inside another is dropped with it, never freed twice."""
    doomed: list[LexborNode] = []
    stack = _children(root)
    while stack:
        node = stack.pop()
        if _is_furniture(node):
            doomed.append(node)
        else:
            stack.extend(_children(node))
    for node in doomed:
        node.decompose()


def lines_of(root: LexborNode) -> list[str]:
    """The text of an element as lines: blocks and <br> break lines, table cells are spaced apart."""
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = "".join(current).strip()
        current.clear()
        if line:
            lines.append(line)

    in_pre = 0
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:  # iterative: a page nested thousands deep must not exhaust the call stack
        node, leaving = stack.pop()
        tag = node.tag or ""
        if leaving:
            if tag == "pre":
                in_pre -= 1
            if tag in _BLOCKS:
                flush()
            elif tag in _CELLS:
                current.append("  ")
            continue
        if node.is_text_node:
            raw = node.text_content or ""
            if in_pre:
                *done, rest = raw.split("\n")
                for piece in done:
                    current.append(piece)
                    flush()
                current.append(rest)
            else:
                current.append(_SPACES.sub(" ", raw))
            continue
        if not node.is_element_node or tag in _DROPPED:
            continue
        if tag == "br":
            flush()
            continue
        if tag in _BLOCKS:
            flush()
        if tag == "pre":
            in_pre += 1
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)))
    flush()
    return lines


def _own_text_length(node: LexborNode) -> int:
    """Characters of text inside the element but outside its block children and links."""
    total = 0
    stack = _children(node)
    while stack:
        child = stack.pop()
        if child.is_text_node:
            total += len((child.text_content or "").strip())
        elif child.is_element_node and (child.tag or "") not in _BLOCKS | _CELLS | _DROPPED | {"a"}:
            stack.extend(_children(child))
    return total


def _credits(node: LexborNode) -> list[tuple[LexborNode, float]]:
    """Where a block's own text counts: a paragraph counts for its parent and grandparent (the
    candidates for the article); a block that is itself lines of text (several <br>, or text
    beside block children) counts for itself and its parent."""
    children = _children(node)
    breaks = sum(1 for c in children if c.tag == "br")
    holds_blocks = any((c.tag or "") in _BLOCKS for c in children)
    first = node if breaks >= 2 or holds_blocks else node.parent
    if first is None:
        return []
    second = first.parent
    return [(first, 1.0)] + ([(second, 0.5)] if second is not None else [])


def _article(body: LexborNode) -> LexborNode:
    """The element holding most paragraph text that is not link text (a readability-style score)."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    for node in body.traverse():
        if not node.is_element_node or (node.tag or "") not in _BLOCKS | _CELLS:
            continue
        own = _own_text_length(node)
        for target, weight in _credits(node) if own else []:
            nodes[target.mem_id] = target
            scores[target.mem_id] = scores.get(target.mem_id, 0.0) + weight * own
    if not scores:
        return body
    return nodes[max(scores, key=lambda key: scores[key])]


def _page_title(tree: LexborHTMLParser, page_lines: list[str], before_article: list[str], article: list[str]) -> str:
    """The title a page states: its ArticleTitle meta, a 标题： field, a line shaped as a title just
    above the article or opening it, its <h1>, else the longest part of <title>."""
    title = _meta(tree, _TITLE_META)
    labelled = next((m for m in map(_TITLE_FIELD.search, page_lines) if m), None)
    if not title and labelled:
        title = labelled.group(1)
    if not title:
        # Between the site's menus and the article: "关于…的办理指南", then its byline.
        title = next((found for found in map(looks_like_title, [*reversed(before_article[-4:]), *article[:2]]) if found), "")
    if not title:
        heading = tree.css_first("h1") or tree.css_first("h2")
        title = "".join(lines_of(heading)) if heading is not None else ""
    head_title = tree.css_first("title")
    if not title and head_title is not None:
        # "<title>关于…的通知_国务院文件_中国政府网</title>": the longest part is the title.
        title = max(_TITLE_SEPARATORS.split(head_title.text(strip=True)), key=len)
    return _SPACES.sub(" ", title).strip()


def read_html(html: str) -> Page:
    """The article of a saved page as lines, with the page's title and publication date."""
    tree = LexborHTMLParser(html)
    date_meta = _meta(tree, _DATE_META)
    body = tree.body
    if body is None:
        return Page("", _page_title(tree, [], [], []), date_meta)
    _remove_furniture(body)
    page_lines = lines_of(body)
    article = lines_of(_article(body))
    start = page_lines.index(article[0]) if article and article[0] in page_lines else -1
    before = page_lines[:start] if start >= 0 else []
    if start >= 0 and page_lines[start : start + len(article)] == article:
        article += _sign_off_after(page_lines[start + len(article) : start + len(article) + 5])
    title = _page_title(tree, page_lines, before, article)
    head: list[str] = []
    if title and not any(title in line for line in article[:5]):
        head.append(title)
    # Policy-library pages give 发文机关, 发文字号, 成文日期… in a table above the article.
    head += [line for line in before if _FIELD_LINE.search(line)]
    date_line = _date_line(page_lines, date_meta, before)
    if date_line and not any(date_line in line for line in head + article):
        head.append(date_line)
    return Page("\n".join(head + article), title, date_meta or date_line)


def _sign_off_after(following: list[str]) -> list[str]:
    """A sign-off the page sets in a block of its own after the article ("西区文体教育局" / "2015年4月"):
    bodies' names, then a date."""
    names = 0
    while names < len(following) and is_signoff_line(following[names]):
        names += 1
    if names and names < len(following) and is_dated_line(following[names]):
        return following[: names + 1]
    return []


def _date_line(page_lines: list[str], date_meta: str, before_article: list[str]) -> str:
    """The page's publication date as it shows it: a labelled date, else the shown date the meta
    tags name, else the dated byline or date stamp just above the article."""
    for line in page_lines:
        match = _LABELLED_DATE.search(line)
        if match:
            return match.group()
    for line in reversed(before_article[-4:]):
        match = _BYLINE_DATE.search(line)
        if match:
            return match.group()
    day = re.sub(r"\D", "", date_meta)[:8]
    for line in page_lines if len(day) == 8 else []:
        for match in _BARE_DATE.finditer(line):
            digits = re.findall(r"\d+", match.group())
            if len(digits) >= 3 and f"{digits[0]}{int(digits[1]):02d}{int(digits[2]):02d}" == day:
                return match.group()
    return ""
