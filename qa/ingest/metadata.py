"""Metadata read from a policy document's own text: title, 文号, issuing bodies, dates.

Chinese official documents share one layout (GB/T 9704): the issuing bodies and 关于 in the
title, the 文号 on a line of its own under it, the sign-off bodies on the lines just above
the date of signing, and on web pages labels such as 发布时间 or 发文字号. These rules read
that layout; they know nothing of any one document. Every field is "" (or empty) when the
text does not give it, so a JSON file beside the document can fill or override each one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Words a document's title ends with, optionally followed by a note such as （试行）.
_KIND = (
    r"(?:通知|通报|办法|意见|方案|条例|规定|决定|决议|公告|通告|细则|规划|纲要|规则|批复|复函|函|报告|指引|指南|"
    r"计划|规范|标准|章程|准则|目录|清单|命令|令|法|解读|要点|措施|公报|答复|说明|实施意见|工作要点|答记者问)"
)
_TITLE_END = re.compile(rf"{_KIND}(?:\s*[(（][^()（）]{{1,20}}[)）])?$")
# A heading or item of the body, never a title: 第一章, 第三条, 一、, （一）, 1.
_ENUMERATED = re.compile(r"^(?:第[一二三四五六七八九十百零〇\d]+[章节条部]|[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[、.．](?!\d))")
# Marks a page puts before its title: "■ 2015年…招生通告".
_TITLE_BULLETS = "■□●○◆◇▲△▶►★☆·•→ "
# A law's or regulation's note of adoption: "（2012年9月29日湖北省第十一届人民代表大会常务委员会第三十二次会议通过）".
_ADOPTED = re.compile(
    r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*([\u4e00-\u9fff]{0,12}?)第[一二三四五六七八九十]+届(全国)?"
    r"(人民代表大会(?:常务委员会)?)第[一二三四五六七八九十百\d]+次(?:全体)?会议(?:通过|批准)"
)
# A rule's note of promulgation: "（2011年4月18日环境保护部令第17号公布 自2011年5月1日起施行）".
_PROMULGATED = re.compile(r"(?:^|[\s（(日以])((?:(?![日以])[\u4e00-\u9fff]){1,20}?令\s*第\s*\d{1,5}\s*号)\s*(?:公布|发布)")
_ORG_SUFFIX = re.compile(r"(?:[部委局院厅办处署会行所室站府央社司队组庭]|中心|集团)$")
_SENTENCE_PUNCT = re.compile(r"[。；;！!？?]")
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "O": 0, "Ｏ": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_YEAR = "〇○零OＯ一二三四五六七八九"
_CN_SMALL = "一二三四五六七八九十"
_DATE_CN = re.compile(rf"([{_CN_YEAR}]{{4}})\s*年\s*([{_CN_SMALL}]{{1,3}})\s*月\s*([{_CN_SMALL}]{{1,3}})\s*日")
_DATE_YMD = re.compile(r"(\d{4})\s*(?:年|[-/.])\s*(\d{1,2})\s*(?:月|[-/.])\s*(\d{1,2})\s*日?")
_DATE_ONLY_LINE = re.compile(
    rf"^[(（]?\s*(?:\d{{4}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日|[{_CN_YEAR}]{{4}}\s*年\s*[{_CN_SMALL}]{{1,3}}\s*月\s*[{_CN_SMALL}]{{1,3}}\s*日)\s*[)）]?$"
)
_MONTH_ONLY_LINE = re.compile(rf"^[(（]?\s*(?:\d{{4}}|[{_CN_YEAR}]{{4}})\s*年\s*(?:\d{{1,2}}|[{_CN_SMALL}]{{1,3}})\s*月\s*[)）]?$")
# A web page's publication stamp on a line of its own: 2023-08-22, 2023/08/22 15:09.
_STAMP_LINE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
# 文号: 工信部联科〔2023〕118号, 国发[2018]41号; orders and announcements: 国务院令第53号, 公告2023年第5号.
_DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{1,20}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,5}\s*号"
    r"|[\u4e00-\u9fff][\u4e00-\u9fff ]{0,30}令\s*[(（]?\s*第\s*\d{1,5}\s*号\s*[)）]?"
    r"|[\u4e00-\u9fff][\u4e00-\u9fff ]{0,30}公告\s*(?:19|20)\d{2}\s*年\s*第\s*\d{1,5}\s*号"
)
# The bodies an order or announcement number names: "财政部 税务总局公告2023年第10号".
_NUMBER_ISSUERS = re.compile(r"^(?:中华人民共和国)?(.+?)(?:令|公告)\s*[(（]?\s*(?:(?:19|20)\d{2}\s*年\s*)?第")
_ORDER_HEAD = re.compile(r"^[\u4e00-\u9fff]{2,30}令$")
_ORDER_NUMBER = re.compile(r"^第\s*\d{1,5}\s*号$")
_LABELS = {
    "标题": "title",
    "名称": "title",
    "发文机关": "issuers",
    "发布机关": "issuers",
    "发文单位": "issuers",
    "发布机构": "issuers",
    "发布单位": "issuers",
    "发文部门": "issuers",
    "发布部门": "issuers",
    "发文字号": "doc_number",
    "发文日期": "date_signed",
    "信息来源": "issuers",
    "发表时间": "date_published",
    "信息提供日期": "date_published",
    "文号": "doc_number",
    "成文日期": "date_signed",
    "成文时间": "date_signed",
    "发布日期": "date_published",
    "发布时间": "date_published",
}
# Labels of other fields end the value before them on the same line ("发文字号：… 成文日期：…").
# Pages space labels out to align them ("标　　题："), so any spacing inside a label is allowed.
_OTHER_LABELS = ("索引号", "主题分类", "公文种类", "有效性", "来源", "字号", "作者", "浏览次数")


def label_pattern(labels: Sequence[str]) -> str:
    """A regex group matching any of `labels` followed by a colon, spaced out or not ("标　　题："),
    or in brackets ("【发布日期】", "[成文日期]")."""
    return "[\\[【]?(" + "|".join(r"[ \t\u3000\u00a0]*".join(label) for label in labels) + r")(?:[\]】]\s*[:：]?|\s*[:：])"


_LABEL = re.compile(label_pattern([*_LABELS, *_OTHER_LABELS]))
_DOC_NUMBER_SUFFIX = re.compile(r"\s*[(（][^()（）]*(?:[〔\[](?:19|20)\d{2}[〕\]]|令\s*第\s*\d{1,5}\s*号)[^()（）]*[)）]$")  # "…的通知(川发改价格〔2025〕480号)"
_HEADER_LINES = 40  # labels and the title are looked for near the top
_SIGNOFF_LINES = 6  # sign-off bodies above a date line
_SOURCE = re.compile(r"来源\s*[:：]\s*([^\s:：]{2,30})")
_BYLINE = re.compile(r"\d{4}\s*(?:年|[-/.])\s*\d{1,2}\s*(?:月|[-/.])\s*\d{1,2}.{0,4}?(?:\d{1,2}:\d{2}|来源)|(?:来源|时间|日期)\s*[:：].{0,30}\d{4}\s*(?:年|[-/.])\s*\d{1,2}")


@dataclass(frozen=True)
class TextMetadata:
    title: str = ""
    doc_number: str = ""
    issuers: tuple[str, ...] = ()
    date_signed: str = ""  # ISO 8601: 2023-08-03
    date_published: str = ""


def _cn_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 三十一 → 31."""
    if "十" not in text:
        return _CN_DIGITS.get(text, 0)
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def parse_date(text: str) -> str:
    """The first date in `text` as YYYY-MM-DD, from 2023年8月3日, 二〇二三年八月三日, 2023-08-03 or 2023/8/3; else ""."""
    found: list[tuple[int, int, int, int]] = []
    for match in _DATE_YMD.finditer(text):
        found.append((match.start(), int(match.group(1)), int(match.group(2)), int(match.group(3))))
    for match in _DATE_CN.finditer(text):
        year = int("".join(str(_CN_DIGITS[ch]) for ch in match.group(1)))
        found.append((match.start(), year, _cn_number(match.group(2)), _cn_number(match.group(3))))
    compact = re.fullmatch(r"\s*((?:19|20)\d{2})(\d{2})(\d{2})\s*", text)  # a form field's "20150213"
    if compact:
        found.append((0, int(compact.group(1)), int(compact.group(2)), int(compact.group(3))))
    for _, year, month, day in sorted(found):
        if 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return ""


def _lines(text: str) -> list[str]:
    return [line.strip().replace("\u3000", " ").strip() for line in text.splitlines() if line.strip()]


def labelled_fields(lines: Sequence[str]) -> dict[str, str]:
    """Values of labelled lines near the top (发文字号：…, 发布时间：…), several labels to a line allowed."""
    found: dict[str, str] = {}
    head = list(lines[: _HEADER_LINES + 1])
    for n, line in enumerate(head[:_HEADER_LINES]):
        matches = list(_LABEL.finditer(line))
        for match, following in zip(matches, [*matches[1:], None], strict=False):
            field = _LABELS.get(re.sub(r"\s", "", match.group(1)))
            value = line[match.end() : following.start() if following else len(line)].strip(" ：:|｜")
            if not value and following is None and n + 1 < len(head) and not _LABEL.match(head[n + 1]):
                value = head[n + 1].strip(" ：:|｜")  # a saved page's table: "成文日期：" with its value on the next line
            if field == "doc_number":
                value = value.strip("()（）")
                if not re.search(r"[\d〇○零一二三四五六七八九十]", value):
                    continue  # "文号: 号": a blank form field, no number
            if field and value and field not in found:
                found[field] = value
    return found


def _is_header_line(line: str) -> bool:
    """A line above or around the title that is not the title: labels, stamps, dates, 文号."""
    return bool(
        _LABEL.match(line)
        or _STAMP_LINE.match(line)
        or _DATE_ONLY_LINE.match(line)
        or _DOC_NUMBER.fullmatch(line)
        or _ORDER_NUMBER.match(line)
        or _ORDER_HEAD.match(line)
    )


def _title_line(line: str) -> str:
    """A line as title text: Markdown heading marks dropped."""
    return (line.lstrip("#").strip() if line.startswith("#") else line).lstrip(_TITLE_BULLETS)


def _bare_title(title: str) -> str:
    """A title without the 文号 or order number after it, nor the 《》 around it."""
    title = _DOC_NUMBER_SUFFIX.sub("", title)
    return title[1:-1] if re.fullmatch(r"《[^《》]+》", title) else title


def looks_like_title(line: str) -> str:
    """`line` as a document's title when it is shaped as one (it ends with a document kind, is no
    sentence, heading or label), else ""."""
    title = _title_line(line.strip())
    if not 6 <= len(title) <= 100 or _SENTENCE_PUNCT.search(title) or _ENUMERATED.match(title) or _LABEL.search(title):
        return ""
    title = _bare_title(title)
    return title if _TITLE_END.search(title) else ""


def find_title(lines: Sequence[str]) -> str:
    """The title: the first line that can be one, joined with the next line or two when they complete it.

    Web pages and Word files often break a long title in two ("国务院关于印发" /
    "《…行动方案》的通知"): short lines are joined while the title does not yet end with a
    document kind (通知, 办法, 意见…) and are kept only if the joined title does.
    """
    headings = [_title_line(line) for line in lines[:_HEADER_LINES] if re.match(r"^#{1,2}\s", line)]
    headings = [heading for heading in headings if not _ENUMERATED.match(heading)]
    if headings:
        return _bare_title(headings[0])
    # A note in brackets under a title ("（2021年11月5日…会议通过）") is never the title itself.
    candidates = [_title_line(line) for line in lines[:_HEADER_LINES] if not _is_header_line(line) and not re.fullmatch(r"[(（].*[)）]", line)]
    if not candidates:
        return ""
    first = candidates[0]
    if len(first) > 100 or _SENTENCE_PUNCT.search(first) or first.endswith(("：", ":")):
        # An order opens with what it promulgates: "《…条例》已经…通过，现予公布".
        promulgated = re.match(r"^《([^》]{2,60})》.*现予公布", first)
        return promulgated.group(1) if promulgated else ""
    if _ENUMERATED.match(first):
        return ""  # the text opens with its body: it states no title
    if _TITLE_END.search(first):
        return _bare_title(first)
    joined = first
    for following in candidates[1:3]:
        if len(following) > 60 or _SENTENCE_PUNCT.search(following) or following.endswith(("：", ":")):
            break
        joined += following
        if _TITLE_END.search(joined):
            return _bare_title(joined)
    # A saved page opens with its site's banner and menus: the title is the first line shaped like one.
    for line, following in zip(candidates[3:], [*candidates[4:], ""], strict=False):
        if _ENUMERATED.match(line):
            continue
        # A long title may be broken in two; a short line or one naming only bodies is a field's value, not its start.
        for title in (line,) if len(line) < 8 or _organisations(line) else (line, line + following):
            if 8 <= len(title) <= 100 and not _SENTENCE_PUNCT.search(title) and re.search("关于|印发|就", title) and _TITLE_END.search(title):
                return _bare_title(title)
    return _bare_title(first)


def find_doc_number(lines: Sequence[str], title: str) -> str:
    """The 文号 on a line of its own near the top (or in the title), never one cited in the body."""
    head = list(lines[:_HEADER_LINES])
    for line in head:
        bare = line.strip("()（） ")
        if _DOC_NUMBER.fullmatch(bare):
            return bare
    for line, following in zip(head, head[1:], strict=False):
        if _ORDER_HEAD.match(line) and _ORDER_NUMBER.match(following):
            return line + following.replace(" ", "")
    in_title = _DOC_NUMBER.search(title) or next(
        (_DOC_NUMBER.search(suffix.group()) for suffix in map(_DOC_NUMBER_SUFFIX.search, head[:5]) if suffix and suffix.start()), None
    )
    if in_title:
        return in_title.group()
    promulgated = next((m for m in map(_PROMULGATED.search, head[:5]) if m), None)
    return re.sub(r"\s", "", promulgated.group(1)) if promulgated else ""


def _organisations(line: str) -> list[str]:
    """The bodies named on a sign-off line ("财政部　　税务总局"), or [] when the line is not one."""
    if len(line) > 60 or re.search(r"[\d，,。：:；;《》“”]", line):
        return []
    names = [name for name in re.split(r"[\s、]+", line) if name]
    if len(names) > 2 and all(len(name) == 1 for name in names):
        names = ["".join(names)]  # a name spaced out to the width of the others: "国 家 能 源 局"
    if names and all(2 <= len(name) <= 30 and _ORG_SUFFIX.search(name) for name in names):
        return names
    return []


def is_signoff_line(line: str) -> bool:
    """A line that only names bodies, as a sign-off does ("国家发展改革委", "财政部　　税务总局")."""
    return bool(_organisations(line))


def is_dated_line(line: str) -> bool:
    """A line that is only a date, to the day or to the month ("2023年8月3日", "2015年4月")."""
    return bool(_DATE_ONLY_LINE.match(line) or _MONTH_ONLY_LINE.match(line))


def issuers_from_title(title: str) -> tuple[str, ...]:
    """Bodies named before 关于 or 印发 in a title: "财政部 税务总局关于…", "工业和信息化部等四部门关于…"."""
    match = re.match(r"^(.{2,80}?)(?:等[一二三四五六七八九十\d]+个?(?:部门|单位))?(?:联合)?(?:关于|印发|发布)", title)
    if not match:
        return ()
    return tuple(_organisations(match.group(1)))


def find_signoff(lines: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """Sign-off bodies and the date of signing: the first date line with bodies just above it.

    Without bodies above any date line, a date line at the very end of the text (a document
    signed with its date only) is still its date of signing.
    """
    for i, line in enumerate(lines):
        if not _DATE_ONLY_LINE.match(line):
            continue
        bodies: list[str] = []
        for above in reversed(lines[max(0, i - _SIGNOFF_LINES) : i]):
            names = _organisations(above)
            if not names:
                break
            bodies[:0] = names
        if bodies:
            return tuple(bodies), parse_date(line)
    for i, line in enumerate(lines):
        if _MONTH_ONLY_LINE.match(line) and (named := _organisations(lines[i - 1]) if i else []):
            return tuple(named), ""  # signed with the month only: the bodies, but no date of signing
    tail = [line for line in lines[-3:] if not re.fullmatch(r"[(（].*[)）]", line) or _DATE_ONLY_LINE.match(line)]
    if tail and _DATE_ONLY_LINE.match(tail[-1]):
        return (), parse_date(tail[-1])
    return (), ""


def extract_metadata(text: str) -> TextMetadata:
    """Title, 文号, issuing bodies, date signed and date published, as far as the text gives them."""
    lines = _lines(text)
    labelled = labelled_fields(lines)
    title = labelled.get("title") or find_title(lines)
    signoff_bodies, signoff_date = find_signoff(lines)
    adopted = next((m for m in map(_ADOPTED.search, lines[:5]) if m), None)
    if adopted and not signoff_bodies:
        signoff_bodies = ("".join(part for part in adopted.group(2, 3, 4) if part),)
        signoff_date = signoff_date or parse_date(adopted.group(1))
    if "issuers" in labelled:
        issuers = tuple(name for name in re.split(r"[\s、，,；;]+", labelled["issuers"]) if name)
    else:
        issuers = signoff_bodies or issuers_from_title(title)
    if not issuers:
        # A page's byline names the body that published it: "来源：南京市教育局  2016-04-16".
        source = next((m for m in map(_SOURCE.search, lines[:10]) if m), None)
        issuers = tuple(_organisations(source.group(1))) if source else ()
    doc_number = labelled.get("doc_number") or find_doc_number(lines, title)
    if not issuers and (named := _NUMBER_ISSUERS.match(doc_number)):
        issuers = tuple(_organisations(named.group(1)))
    published = parse_date(labelled.get("date_published", ""))
    if not published:
        stamp = next((line for line in lines[:10] if _STAMP_LINE.match(line)), "")
        # A page's byline: "2016年06月28日 08:46:18 来源：中国网信网", "来源：南京市教育局  2016-04-16".
        byline = next((line for line in lines[:10] if len(line) <= 80 and _BYLINE.search(line) and "成文" not in line), "")
        published = parse_date(stamp) or parse_date(byline)
    return TextMetadata(
        title=title,
        doc_number=doc_number,
        issuers=issuers,
        date_signed=parse_date(labelled.get("date_signed", "")) or signoff_date,
        date_published=published,
    )
