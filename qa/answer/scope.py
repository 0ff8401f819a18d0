"""Which documents a question names: by title, short title in 《》, 文号 or a name only one document has.

"居民身份证法规定的有效期是多久" names the document whose title holds 居民身份证法; "领航工程
的目标" names the one document whose text has 领航工程 in its title. A phrase that several
documents share ("国家标准") names none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from qa.answer.question import quoted_terms
from qa.text.dictionary import pos_tokens
from qa.text.grammar import DOCNUM, has_numeral
from qa.text.normalize import normalize, normalized_opening
from qa.types import Document

_MIN_NAME = 4  # characters of a title a question must repeat to name a document by it
_YEARS_IN_BRACKETS = re.compile(r"[(（][^)）]*[)）]")


class DocumentNames:
    """Normalised titles, document numbers and texts of a library, for naming documents in questions."""

    def __init__(self, documents: Iterable[Document], openings: Mapping[str, str] | None = None) -> None:
        """`openings`, when given, are the documents' `normalized_opening`s saved with the index (else computed here)."""
        self.titles: dict[str, str] = {}
        self.numbers: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.issuers: dict[str, str] = {}
        for doc in documents:
            self.titles[doc.doc_id] = normalize(doc.title)
            number = normalize(doc.doc_number)
            # A number without a numeral ("号", a blank form field) would be "in" every number asked.
            self.numbers[doc.doc_id] = number if has_numeral(number) else ""
            self.issuers[doc.doc_id] = normalize(" ".join(doc.issuers))
            self.texts[doc.doc_id] = openings[doc.doc_id] if openings is not None else normalized_opening(doc.text)
        # Every title in one string: a phrase no title holds is ruled out by one search, not one per document.
        self._all_titles = "\n".join(self.titles.values())

    def named(self, question: str) -> list[str]:
        """The ids of the documents a question names; [] when it names none (or the library has one)."""
        if len(self.titles) < 2:
            return []
        norm = normalize(question)
        for quoted in re.findall(r"《([^》]+)》", norm):
            short = _YEARS_IN_BRACKETS.sub("", quoted)
            hits = [d for d, t in self.titles.items() if quoted in t or (len(short) >= 2 and short in _YEARS_IN_BRACKETS.sub("", t))]
            if hits and len(hits) < len(self.titles):
                return hits
        for number in DOCNUM.findall(norm):
            key = normalize(number)
            hits = [d for d, n in self.numbers.items() if n and (key in n or n in key)]
            hits = hits or [d for d, t in self.texts.items() if key in t[:400]]
            if hits:
                return hits
        found = self._by_unique_title_words(norm)
        return [] if found and self._placed_elsewhere(norm, found[0]) else found

    def without_own_numbers(self, question: str, ids: Iterable[str]) -> str:
        """A normalised question without the document numbers by which it names those documents."""
        norm = normalize(question)
        for number in DOCNUM.findall(norm):
            key = normalize(number)
            if any((self.numbers.get(d) and (key in self.numbers[d] or self.numbers[d] in key)) or key in self.texts.get(d, "")[:400] for d in ids):
                # "武劳社〔2004〕135号文": the 文 (文件) that follows a number is the document it numbers.
                norm = re.sub(re.escape(number) + "(?:文件|文)?", " ", norm)
        return norm

    def placed(self, question: str) -> list[str]:
        """The one document whose title shares a phrase with the question and whose title or issuer
        holds a place the question names: "在武汉申请公共租赁住房…" is about 武汉市公共租赁住房…规定
        although another city's title also holds 公共租赁住房; "徐州家电以旧换新…" about the notice
        徐州市商务局 issued. The shared phrase is a topic, not a name (other titles
        or texts hold it): the question is asked within that document, its words all kept."""
        if len(self.titles) < 2:
            return []
        norm = normalize(question)
        places = _places(norm)
        if not places:
            return []
        sharing = [d for d, t in self.titles.items() if _shares_phrase(norm, t)]
        owners = [d for d in sharing if any(p in self.titles[d] or p in self.issuers[d] for p in places)]
        if len(owners) != 1 or len(sharing) == len(self.titles):
            return []
        # Another document whose text names the place and says more of the question may be the one asked of:
        # "…城乡居民养老，想转到广州的职工养老…" is about a Guangzhou guide whose title names no place but whose
        # text holds 城乡居民养老, not about the one Guangzhou title that holds 城乡居民.
        owner = owners[0]
        own = _longest_shared(norm, f"{self.titles[owner]}\n{self.texts[owner]}")
        rivals = [
            d
            for d, text in self.texts.items()
            if d != owner and any(p in text for p in places) and _shares_phrase(norm, text) and _longest_shared(norm, text) > own
        ]
        return [] if rivals else owners

    def _placed_elsewhere(self, norm: str, doc_id: str) -> bool:
        """Whether the question names a place the document never does, while the title or issuer of another
        document sharing a phrase with the question names it: "杭州2016年小学招生通告" shares 2016年小学招生
        with a Fuzhou title alone, but it asks of the Hangzhou notice."""
        places = _places(norm)
        if not places or any(p in self.titles[doc_id] or p in self.issuers[doc_id] or p in self.texts[doc_id] for p in places):
            return False
        return any(
            d != doc_id and any(p in t or p in self.issuers[d] for p in places) and _shares_phrase(norm, t) for d, t in self.titles.items()
        )

    def _own_place(self, words: str, doc_id: str) -> bool:
        """Whether words put before a title are only a place the document is of: "福州市" before
        "城乡居民…实施方案", whose title names no place but whose issuer or text does."""
        place = re.sub(r"(?<=..)[省市区县]$", "", words)
        if len(place) < 2 or not all(pos == "ns" for _, pos in pos_tokens(words)):
            return False
        return place in self.issuers[doc_id] or place in self.texts[doc_id]

    def _names_a_document(self, rest: str) -> bool:
        """Whether the longest phrase some title shares with the start of a text ends in a genre (…试行办法)."""
        for j in range(len(rest), _MIN_NAME - 1, -1):
            if rest[:j] in self._all_titles:
                return bool(_GENRE_END.search(rest[:j]))
        return False

    def _by_unique_title_words(self, norm: str) -> list[str]:
        """The document whose title shares the longest phrase with the question, if only it holds that phrase.

        A phrase that is only the end of a longer name in the question ("居住证积分|管理试行办法")
        names another document than one whose title ends alike ("碳排放管理试行办法").
        """
        best: tuple[int, str] | None = None
        runs: list[int] = []  # the names' beginnings, found with jieba only when a title phrase needs them
        for i in range(len(norm)):
            for j in range(len(norm), i + _MIN_NAME - 1, -1):
                phrase = norm[i:j]
                if best and len(phrase) <= best[0]:
                    break
                if phrase not in self._all_titles:
                    continue
                owners = [d for d, t in self.titles.items() if phrase in t]
                if len(owners) != 1:
                    continue
                if sum(1 for t in self.texts.values() if phrase in t) > 1:
                    continue  # other documents speak of it too: a topic, not a name
                title = self.titles[owners[0]]
                runs = runs or _name_runs(norm)
                before = norm[runs[i] : i]
                if not _spelled_in(before, title[: title.find(phrase)]) and not self._own_place(before, owners[0]) and self._names_a_document(norm[i:]):
                    continue  # the question names a document whose name begins with words this title lacks
                best = (len(phrase), owners[0])
                break
        return [best[1]] if best else []


# A phrase ending in a genre of official document is the end of a document's name.
_GENRE_END = re.compile("(?:办法|条例|规定|细则|通知|通告|公告|方案|意见|决定|规划|指南|纲要|规则|法)$")
# jieba's tags of words no name is made of: prepositions (根据, 按), verbs (印发), pronouns, particles…
_NOT_NAME_POS = ("p", "c", "u", "r", "d", "v", "y", "x", "w", "m", "q", "e", "o", "zg")


def _name_runs(norm: str) -> list[int]:
    """For each position of a text, where the name that runs up to it begins: the words before it
    that are nouns, with the part before it of a word it cuts ("公租|房" gives 公租)."""
    words: list[tuple[int, int, bool]] = []
    position = 0
    for word, pos in pos_tokens(norm):
        is_name = pos == "vn" or not pos.startswith(_NOT_NAME_POS)  # 管理 (vn) is a noun here
        words.append((position, position + len(word), is_name and not word.isspace()))
        position += len(word)
    starts = []
    for k in range(len(norm) + 1):
        begin = k
        for a, b, is_name in reversed([w for w in words if w[0] < k]):
            if b > k or (b == begin and is_name):
                begin = a
            else:
                break
        starts.append(begin)
    return starts


def _places(norm: str) -> set[str]:
    """The places a normalised text names, without 省/市/区/县 (广州市 → 广州)."""
    return {re.sub(r"(?<=..)[省市区县]$", "", w) for w, pos in pos_tokens(norm) if pos == "ns" and len(w) >= 2}


def _shares_phrase(text: str, title: str) -> bool:
    """Whether a text and a title share a phrase of at least _MIN_NAME characters."""
    return any(text[i : i + _MIN_NAME] in title for i in range(len(text) - _MIN_NAME + 1))


def _longest_shared(text: str, other: str) -> int:
    """The length of the longest phrase of a text that another holds."""
    longest = 0
    for i in range(len(text)):
        j = i + longest + 1
        while j <= len(text) and text[i:j] in other:
            longest = j - i
            j += 1
    return longest


def _spelled_in(piece: str, text: str) -> bool:
    """Whether every character of a piece appears in the text, in order (深圳公租 in 深圳市公共租赁住)."""
    position = 0
    for ch in piece:
        position = text.find(ch, position) + 1
        if not position:
            return False
    return True


def names_part(segment: str, title: str, number: str = "") -> bool:
    """Whether a question's phrase is part of a document's name rather than something asked of it.

    It is when the title or the document number holds it ("川发改价格" of 川发改价格〔2025〕480号), or
    when it abbreviates the title by keeping characters in order, as official short names do
    ("全国人大常委会" for 全国人民代表大会常务委员会).
    """
    if len(segment) >= 2 and (segment in title or (number and segment in number)):
        return True
    return len(segment) >= _MIN_NAME and _spelled_in(segment, title)


def naming_years(question: str, name: str) -> set[str]:
    """The years a normalised question writes as part of a document's name, not as something it asks.

    "关于2024年部分节假日安排的通知是哪天印发的" names its document with 2024; "到2035年新产业标准化
    工作体系要达到什么状态" asks of 2035 although the title it names ends in 2035年: a year names only
    inside a phrase the question shares with the name beyond the year itself, or inside 《》.
    """
    quoted = [m.span() for m in re.finditer(r"《[^》]*》", question)]
    years: set[str] = set()
    asked: set[str] = set()  # a year written again outside the name is asked all the same
    for m in re.finditer(r"(?<!\d)(?:19|20)\d{2}(?!\d)", question):
        a, b = m.span()
        if any(qa <= a and b <= qb for qa, qb in quoted):
            years.add(m.group())
            continue
        longest = 0
        for i in range(a, -1, -1):
            if question[i:b] not in name:
                break
            j = b
            while j < len(question) and question[i : j + 1] in name:
                j += 1
            longest = max(longest, j - i)
        (years if longest - (b - a) >= 3 else asked).add(m.group())
    return years - asked


def without_title(question: str, title: str) -> str:
    """A normalised question without 《…》, or, when it names no title in 《》, without the phrases it shares with a document's title (≥ 4 characters).

    Once a question is limited to the document it names, the name only blurs the search within it.
    """
    rest = re.sub(r"《[^》]*》", " ", question)
    norm_title = normalize(title)
    if any(quoted and quoted in norm_title for quoted in re.findall(r"《([^》]*)》", question)):
        # Named in 《》, the title is set apart: words said again outside it are asked.
        rest = " ".join(rest.split())
        return rest if len(re.sub(r"\W", "", rest)) >= 2 else question
    quoted = quoted_terms(rest)
    while True:
        best = ""
        for i in range(len(rest)):
            for j in range(len(rest), i + max(_MIN_NAME, len(best) + 1) - 1, -1):
                if rest[i:j] in norm_title and not any(rest[i:j] in term for term in quoted):
                    best = rest[i:j]
                    break
        if not best:
            break
        rest = rest.replace(best, " ", 1)
    rest = " ".join(rest.split())
    return rest if len(re.sub(r"\W", "", rest)) >= 2 else question
