"""Follow-up questions in a conversation, made self-contained without a language model.

"那未来产业呢？" after "新兴产业包括哪些领域？" asks the same kind of question about a new
topic. A follow-up is recognised by its shape (a leading 那/那么/还有/另外, a trailing 呢,
or a short phrase with no question words of its own), never by its words; it is resolved
by putting its topic in place of the most similar topic of the previous question, so
the previous question's answer kind carries over.
"""

from __future__ import annotations

import re

from qa.answer.question import analyse
from qa.text.normalize import normalize_aligned

# Words that open a follow-up: "那…呢", "还有…", "另外…".
_LEAD = re.compile(r"^(?:那么|那|还有|另外|再问一下|再问|再说说|以及|至于|关于|换成|如果是|要是)+")
# What closes one: particles, "怎么样", punctuation.
_TAIL = re.compile(r"(?:的情况|情况|的话|怎么样|又如何|如何|方面|的)?[呢吗呀啊吧嘛哦]*[\s?？。.!！~～…]*$")
_PUNCT = re.compile(r"[\s?？。.!！,，、;；:：~～…]+")
# Question words that make a question stand alone (呢 and 吗 alone do not).
_OWN_QUESTION = re.compile("什么|啥|哪|多少|几[项个家类种条年月号]|谁|怎么|怎样|如何|为何|为什么|是否|有没有|是不是|何时")
_SHORT = 8  # a phrase this short without question words is read as a follow-up

# A year in the user's text: 2030, 二〇三〇年, 30年; with what usually leads it (到/至/在…).
_YEAR_TEXT = re.compile(r"(?:(?<!\d)(?:19|20)\d{2}(?!\d)|[二〇○零一三四五六七八九]{4}(?=年)|(?<!\d)[2-4]\d(?=年))")
_YEAR_PHRASE = re.compile(r"(?:到|至|截至|截止到|截止|在|于)?" + _YEAR_TEXT.pattern + r"(?:年底|年末|年前|年)?")
# Nouns that name the kind of answer: "那发布日期呢？" after "文号是什么？" swaps these, not the topic.
_KIND_NOUN = re.compile(
    "发文字号|文号|编号|发布日期|印发日期|成文日期|发布时间|日期|时间|部门|单位|机构|目标|指标|比例|比重|数量"
)
# Pleasantries are not questions about anything.
_PLEASANTRY = re.compile(r"^(?:谢谢|多谢|感谢|好的|好|嗯|哦|噢|明白了?|知道了|收到|你好|您好|ok|OK|再见)")
# Verbs that join a topic to its answer kind ("新兴产业包括…"); they belong to the question, not the topic.
_JOINERS = re.compile("包括|包含|涵盖|涉及|聚焦|主要有|有")


def resolve_followup(question: str, previous: str | None) -> str:
    """The self-contained question to ask: a follow-up rewritten with the previous question's kind.

    A question that stands alone, or one with no previous question, is returned unchanged.
    """
    asked = question.strip()
    if not previous or not previous.strip() or not is_followup(asked):
        return asked
    previous = previous.strip()
    topic = _topic(asked)
    new_years = analyse(asked).years
    content = _PUNCT.sub("", _YEAR_PHRASE.sub("", topic)).strip("的在和与及")
    if not new_years and not content:
        return asked  # "还有吗？": nothing new to ask about
    kind_noun = _KIND_NOUN.search(content)
    if kind_noun:
        # The follow-up names its own kind of answer: it replaces the previous one's, or stands alone.
        asked_before = _KIND_NOUN.search(previous)
        if not asked_before:
            return asked
        return previous[: asked_before.start()] + content + previous[asked_before.end() :]
    resolved = previous
    if new_years:
        resolved = _with_year(resolved, new_years[0])
    if content:
        resolved = _with_topic(resolved, content)
    return resolved


def is_followup(question: str) -> bool:
    """Whether a question leans on the one before it rather than standing alone."""
    text = question.strip()
    if not text:
        return False
    if _OWN_QUESTION.search(text) or _PLEASANTRY.match(text):
        return False  # "那未来产业有哪些？" asks its own question
    if _LEAD.match(text) or re.search(r"呢[\s?？。.!！]*$", text):
        return True
    return len(_PUNCT.sub("", text)) <= _SHORT and analyse(text).kind == "text"


def _topic(question: str) -> str:
    """What a follow-up is about: the question without its opening and closing words."""
    text = _LEAD.sub("", question.strip())
    return _TAIL.sub("", text).strip()


def _with_year(previous: str, year: str) -> str:
    """The previous question about another year: its year replaced, or the year put in front."""
    match = _YEAR_TEXT.search(previous)
    if match:
        return previous[: match.start()] + year + previous[match.end() :]
    return f"{year}年{previous}"


def _with_topic(previous: str, topic: str) -> str:
    """The previous question with its most similar content piece replaced by the new topic."""
    if topic in previous:
        return previous
    aligned = normalize_aligned(previous)  # same length as `previous`: positions carry over
    pieces = _content_pieces(previous, aligned)
    norm_topic = normalize_aligned(topic)
    best: tuple[int, int, int, int] | None = None  # (common length, shared chars, start, end)
    for start, end in pieces:
        piece = aligned[start:end]
        common, at_piece, at_topic = _longest_common(piece, norm_topic)
        if common < 2:
            continue
        shared = len(set(piece) & set(norm_topic))
        # Align the topic on the common part: "未来产业" over "新兴产业" in "新兴产业包括".
        lo = max(0, at_piece - at_topic)
        hi = min(len(piece), at_piece + common + (len(norm_topic) - at_topic - common))
        candidate = (common, shared, start + lo, start + hi)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None and pieces:
        # Nothing in common: the new topic takes the place of the leading one, where Chinese
        # questions put what they are about ("生物制造属于哪类产业" → "元宇宙属于哪类产业").
        start, end = pieces[0]
        best = (0, 0, start, end)
    if best is None:
        return topic + previous  # the previous question had no topic of its own ("文号是什么？")
    common, _, start, end = best
    if common >= 2:
        start, end = _coordinated(pieces, aligned, norm_topic, start, end, common)
    return previous[:start] + topic + previous[end:]


def _coordinated(pieces: list[tuple[int, int]], aligned: str, topic: str, start: int, end: int, common: int) -> tuple[int, int]:
    """Widen a replaced span over its coordinated neighbours: "国家标准和行业标准" is one topic.

    "那团体标准呢？" after "新制定国家标准和行业标准多少项" asks about 团体标准 instead of the
    pair, not about "团体标准和行业标准".
    """
    for p_start, p_end in pieces:
        joined_after = p_start == end + 1 and aligned[end] in "和与及、"
        joined_before = p_end == start - 1 and aligned[p_end] in "和与及、"
        if (joined_after or joined_before) and _longest_common(aligned[p_start:p_end], topic)[0] >= common:
            start, end = min(start, p_start), max(end, p_end)
    return start, end


def _content_pieces(previous: str, aligned: str) -> list[tuple[int, int]]:
    """Spans of the previous question's content segments (question words, years and joiners removed)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for segment in analyse(previous).segments:
        for part in _JOINERS.split(segment):
            if len(part) < 2:
                continue
            found = aligned.find(part, cursor)
            if found < 0:
                found = aligned.find(part)
            if found < 0:
                continue
            spans.append((found, found + len(part)))
            cursor = found + len(part)
    return spans


def _longest_common(a: str, b: str) -> tuple[int, int, int]:
    """Length of the longest common substring of a and b, and where it starts in each.

    Of equally long ones, the first in `a`, then in `b`. A dynamic program over common
    prefixes, one row at a time: O(len(a)·len(b)) time, O(len(b)) memory.
    """
    best_n, best_i, best_j = 0, 0, 0
    following = [0] * (len(b) + 1)  # common prefix lengths of a[i + 1:] and b[j:]
    for i in range(len(a) - 1, -1, -1):
        ch = a[i]
        row = [0] * (len(b) + 1)
        for j in range(len(b) - 1, -1, -1):
            if b[j] == ch:
                n = row[j] = following[j + 1] + 1
                # Rows run backwards: on a tie the earlier start (this i, then the smaller j) wins.
                if n >= best_n:
                    best_n, best_i, best_j = n, i, j
        following = row
    return (best_n, best_i, best_j) if best_n else (0, 0, 0)
