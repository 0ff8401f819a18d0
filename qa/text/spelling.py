"""Homophone typo correction against the corpus vocabulary.

Chinese typing errors are mostly homophones picked from an input method's list (保彰 for
保障, 闻号 for 文号). A character that forms no known bigram with either neighbour, while
a character with the same pinyin would, is taken for that character. Known bigrams are
those of a general Chinese dictionary (jieba's, words and word beginnings) and of the
library, so a real word is never rewritten, whichever documents are loaded. A replacement
must make a bigram inside a word (of the dictionary, or of the library as jieba cuts it):
"提供|租赁" holds 供租 only at the seam of two words, which is no evidence that 公租房 means 供租房.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from qa.text.dictionary import all_readings, cut, is_word, reading
from qa.text.dictionary import words as dictionary_words
from qa.text.normalize import normalize

# Function characters are never typos of content words; leave them alone.
_FUNCTION_CHARS = set(
    "的了是有在和与及都也就又吗呢吧啊呀么什哪多少几谁怎如何为这那个些要我你他她它们把被给让对从到向里中上下由得地着过不再还才没"
    "项家件类种条名位次"  # measure words
)


# Grammatical particles: never part of an abbreviation (measure words such as 家 may be: 国家).
_PARTICLES = (_FUNCTION_CHARS - set("项家件类种条名位次")) | set("等")
_COMMON_CHAR = 3  # occurrences that make a character common in the corpus


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@dataclass(frozen=True)
class CorrectorTables:
    """What a corrector learns from the library's text, saved with the index so a start need not read the text again."""

    bigrams: dict[str, int]  # CJK character bigram → occurrences
    char_counts: dict[str, int]  # CJK character → occurrences
    abbreviations: dict[str, str]  # "XY" → the corpus word "X?Y?" it abbreviates; "XYZ" → a phrase "X?Y?Z?" or "X?Y??Z"
    readings: dict[str, str]  # each character of the bigrams → its `reading` (a start need not load pinyin)
    word_bigrams: list[str]  # the CJK bigrams inside the library's words, as jieba cuts its text (sorted)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorrectorTables:
        def checked(table: Any, kind: type) -> dict[str, Any]:
            if not isinstance(table, dict) or not all(isinstance(k, str) and type(v) is kind for k, v in table.items()):
                raise ValueError("corrector tables: wrong types")
            return table

        def checked_list(items: Any) -> list[str]:
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ValueError("corrector tables: wrong types")
            return items

        return cls(
            checked(data["bigrams"], int),
            checked(data["char_counts"], int),
            checked(data["abbreviations"], str),
            checked(data["readings"], str),
            checked_list(data.get("word_bigrams", [])),  # none in an index of an earlier version, rebuilt for its tables
        )


def _clear_readings(readings_of: dict[str, list[tuple[int, str]]]) -> dict[str, str]:
    """Each abbreviation's most frequent reading, when it is the clear one: an abbreviation with two
    common readings (国标: 国家标准 or 国际标准?) is left alone."""
    clear: dict[str, str] = {}
    for short, options in readings_of.items():
        options.sort(reverse=True)
        if len(options) == 1 or options[1][0] * 2 < options[0][0]:
            clear[short] = options[0][1]
    return clear


def corrector_tables(texts: Iterable[str]) -> CorrectorTables:
    """Count the library's bigrams and characters, its in-word bigrams, and find its abbreviations."""
    bigrams: Counter[str] = Counter()
    char_counts: Counter[str] = Counter()
    four_grams: Counter[str] = Counter()
    phrases: Counter[str] = Counter()  # three two-character words in a row, as jieba cuts them
    in_words: set[str] = set()
    for text in texts:
        for piece in text.split():
            norm = normalize(piece)
            char_counts.update(ch for ch in norm if _is_cjk(ch))
            bigrams.update(norm[i : i + 2] for i in range(len(norm) - 1) if _is_cjk(norm[i]) and _is_cjk(norm[i + 1]))
            cuts = cut(norm)
            # Four-character words and two two-character words in a row, as jieba cuts them: "新能源|出租车"
            # holds 能源出租 only across its words, and that is no word 能出 could stand for.
            four_grams.update(w for w in cuts if len(w) == 4 and all(_is_cjk(c) for c in w))
            four_grams.update(a + b for a, b in zip(cuts, cuts[1:], strict=False) if len(a) == len(b) == 2 and all(_is_cjk(c) for c in a + b))
            in_words.update(w[i : i + 2] for w in cuts for i in range(len(w) - 1) if _is_cjk(w[i]) and _is_cjk(w[i + 1]))
            for a, b, c in zip(cuts, cuts[1:], cuts[2:], strict=False):
                phrase = a + b + c
                if len(a) == len(b) == len(c) == 2 and all(_is_cjk(ch) for ch in phrase) and not set(phrase) & _PARTICLES:
                    phrases[phrase] += 1
    # "X?Y?" four-character words said at least twice, by their abbreviation "XY": a pair of words
    # written once ("本市|新购") is no term a reader would shorten.
    readings_of: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for word, count in four_grams.items():
        if count >= 2 and not set(word) & _PARTICLES:
            readings_of[word[0] + word[2]].append((count, word))
    # Phrases of three words said at least twice, by the first characters of their words, the last
    # word giving either one: 公共租赁住房 → 公租房.
    readings_of3: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for phrase, count in phrases.items():
        if count >= 2:
            for short in dict.fromkeys((phrase[0] + phrase[2] + phrase[4], phrase[0] + phrase[2] + phrase[5])):
                readings_of3[short].append((count, phrase))
    abbreviations = {**_clear_readings(readings_of), **_clear_readings(readings_of3)}
    readings = {ch: reading(ch) for ch in sorted({ch for gram in bigrams for ch in gram})}
    return CorrectorTables(dict(bigrams), dict(char_counts), abbreviations, readings, sorted(in_words))


class HomophoneCorrector:
    """Rewrites typo characters of a normalised question into homophones the corpus knows."""

    def __init__(
        self,
        texts: Iterable[str],
        dictionary: Container[str] | None = None,
        tables: CorrectorTables | None = None,
        vocabulary: Iterable[str] = (),
    ) -> None:
        """From the library's texts, or from the tables `corrector_tables` counted in them (then `texts` is not read).

        `vocabulary`: words questions use about any document (文号, 落款, 施行), known as if the library said them.
        """
        self._dictionary = dictionary if dictionary is not None else dictionary_words()
        self.tables = tables if tables is not None else corrector_tables(texts)
        self.bigrams: Counter[str] = Counter(self.tables.bigrams)
        vocabulary = tuple(vocabulary)
        for word in vocabulary:
            for i in range(len(word) - 1):
                self.bigrams[word[i : i + 2]] += 1
        self._word_bigrams = set(self.tables.word_bigrams) | {w[i : i + 2] for w in vocabulary for i in range(len(w) - 1)}
        self._char_counts: Counter[str] = Counter(self.tables.char_counts)
        self._abbreviations = self.tables.abbreviations
        self._chars_by_sound: dict[str, set[str]] = defaultdict(set)
        for ch, sound in self.tables.readings.items():
            self._chars_by_sound[sound].add(ch)
        # The vocabulary's characters the library lacks get their readings at the first correction,
        # when the pinyin tables have loaded: a start does not wait for them.
        self._unread = sorted({ch for word in vocabulary for ch in word if ch not in self.tables.readings})

    def _known(self, gram: str) -> bool:
        return gram in self.bigrams or gram in self._dictionary

    def _in_word(self, gram: str) -> bool:
        return gram in self._word_bigrams or gram in self._dictionary

    @staticmethod
    def _word_spans(text: str) -> list[tuple[int, int]]:
        """For each character of a text, the [start, end) of the word jieba puts it in."""
        spans: list[tuple[int, int]] = []
        for word in cut(text):
            start = len(spans)
            spans.extend([(start, start + len(word))] * len(word))
        return spans

    def _locked(self, span: tuple[int, int], text: str) -> bool:
        """Whether a word of several characters is a real one: a bigram of it is inside a known word."""
        start, end = span
        return end - start >= 2 and any(self._in_word(text[k : k + 2]) for k in range(start, end - 1))

    def known_count(self, norm_question: str) -> int:
        """How many of a question's character bigrams the library's text holds: the evidence a correction must raise."""
        return sum(1 for i in range(len(norm_question) - 1) if norm_question[i : i + 2] in self.bigrams)

    def expand_abbreviations(self, norm_question: str) -> str:
        """Unknown two-character words that abbreviate corpus words: 国标 → 国家标准, 行标 → 行业标准.

        Chinese abbreviations keep the first character of each word; an unknown bigram XY is
        read as the corpus's most frequent "X?Y?" made of two known words.
        """
        out, i = [], 0
        word_of = self._word_spans(norm_question)
        while i < len(norm_question):
            three = norm_question[i : i + 3]
            # An abbreviation does not begin inside a real word: "天津市|租房" holds 市租房 inside 天津市,
            # which is no 市场租赁住房.
            starts_word = word_of[i][0] == i or not self._in_word(norm_question[i - 1 : i + 1])
            if (
                starts_word
                and len(three) == 3
                and all(_is_cjk(c) and c not in _PARTICLES for c in three)
                and not self._in_word(three[:2])
                and three in self._abbreviations
            ):
                out.append(self._abbreviations[three])  # 公租房 → 公共租赁住房
                i += 3
                continue
            gram = norm_question[i : i + 2]
            expansion = None
            # A bigram the library holds only across two words ("执行|标准" holds 行标) is no word of it.
            if starts_word and len(gram) == 2 and all(_is_cjk(c) and c not in _PARTICLES for c in gram) and not self._in_word(gram):
                # An abbreviation stands on its own: "印发通知" holds 发通 only at the seam of two words,
                # and "哪几年评上的" holds 年评 only between the words 几年 and 评上.
                left, right = norm_question[i - 1 : i + 1] if i else "", norm_question[i + 1 : i + 3]
                seam = (len(left) == 2 and left in self.bigrams) or (len(right) == 2 and right in self.bigrams)
                first, second = word_of[i], word_of[i + 1]
                seam = seam or (first != second and first[1] - first[0] >= 2 and second[1] - second[0] >= 2)
                expansion = None if seam else self._abbreviations.get(gram)
            if expansion:
                out.append(expansion)
                # "五规划" → "五年规划": the expansion's last character may already follow.
                i += 3 if norm_question[i + 2 : i + 3] == expansion[3] else 2
            else:
                out.append(norm_question[i])
                i += 1
        return "".join(out)

    def correct(self, norm_question: str) -> str:
        """The normalised question with homophone typos replaced; unchanged when there are none."""
        if self._unread:
            for ch in self._unread:
                self._chars_by_sound[reading(ch)].add(ch)
            self._unread = []
        chars = list(norm_question)
        word_of = self._word_spans(norm_question)
        for j, ch in enumerate(chars):
            if not _is_cjk(ch) or ch in _FUNCTION_CHARS:
                continue
            left = chars[j - 1] if j > 0 and _is_cjk(chars[j - 1]) else ""
            right = chars[j + 1] if j + 1 < len(chars) and _is_cjk(chars[j + 1]) else ""
            if not (left or right):
                continue
            # Inside a word the segmenter made up ("才能|伸请"), only the word's own bigrams vouch
            # for a character: 能伸 is a dictionary word, but not the one meant here.
            start, end = word_of[j]
            inside = [g for g in (norm_question[j - 1 : j + 1] if j > start else "", norm_question[j : j + 2] if j + 1 < end else "") if g]
            made_up = end - start >= 2 and not any(self._in_word(g) for g in inside)
            if (left and self._known(left + ch)) or (right and self._known(ch + right)):
                if not made_up:
                    continue
                # Suspect only for its word: the replacement must mend that word (补帖 → 补贴, not 布帖).
                left = left if j > start else ""
                right = right if j + 1 < end else ""
            # The word before, when the character begins a word: with a replacement it may make a longer
            # dictionary word (通知|输 → 通知书, 就|叶 → 就业), whatever rules below set its last character aside.
            before = norm_question[word_of[j - 1][0] : j] if left and j == start else ""
            # A neighbour inside another real word is that word's, not a half of this one's: "具体|指"
            # gives no 体 to make 指 into 制 (体制).
            left = "" if left and j == start and self._locked(word_of[j - 1], norm_question) else left
            right = "" if right and j + 1 == end and self._locked(word_of[j + 1], norm_question) else right
            # A replacement must form a known word with a content neighbour: "的问" proves nothing.
            left = "" if left in _FUNCTION_CHARS else left
            right = "" if right in _FUNCTION_CHARS else right
            best, best_key = ch, (0, 0, 0)
            # A character of several readings is a typo for any of them: 丧藏 (cang, zang) for 丧葬.
            for candidate in sorted(set().union(*(self._chars_by_sound.get(sound, ()) for sound in all_readings(ch)))):
                fits = [g for g in ((left + candidate) if left else "", (candidate + right) if right else "") if g]
                hits = [g for g in fits if self._in_word(g)]
                if not left and before and is_word(before + candidate):
                    hits.append(before[-1] + candidate)
                # Ties go to the character the library uses more (文号 over 问号 in policy text).
                key = (len(hits), sum(self.bigrams[g] for g in hits), self._char_counts[candidate])
                # A character the corpus uses often ("出" in 提出, 突出) is more likely meant
                # than mistyped: replacing it needs a known word on both sides, or a common one.
                strong = len(hits) == 2 or any(self.bigrams[g] >= _COMMON_CHAR for g in hits)
                if hits and (strong or self._char_counts[ch] < _COMMON_CHAR) and key > best_key:
                    best, best_key = candidate, key
            chars[j] = best
        return "".join(chars)
