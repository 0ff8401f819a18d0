"""Homophone typo correction against the corpus vocabulary.

Chinese typing errors are mostly homophones picked from an input method's list (保彰 for
保障, 闻号 for 文号). A character that forms no known bigram with either neighbour, while
a character with the same pinyin would, is taken for that character. Known bigrams are
those of the corpus plus the question words the answerer understands (文号, 日期…).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin  # type: ignore[import-untyped]

from qa.normalize import normalize

# Function characters are never typos of content words; leave them alone.
_FUNCTION_CHARS = set(
    "的了是有在和与及都也就又吗呢吧啊呀么什哪多少几谁怎如何为这那个些要我你他她它们把被给让对从到向里中上下由得地着过"
    "项家件类种条名位次"  # measure words
)


_COMMON_CHAR = 3  # occurrences that make a character common in the corpus


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


@lru_cache(maxsize=50000)
def reading(ch: str) -> str:
    """The toneless pinyin of a character's most common reading."""
    return str(lazy_pinyin(ch, style=Style.NORMAL)[0])


class HomophoneCorrector:
    """Rewrites typo characters of a normalised question into homophones the corpus knows."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.bigrams: Counter[str] = Counter()
        self._char_counts: Counter[str] = Counter()
        for norm in (normalize(piece) for text in texts for piece in text.split()):
            self._char_counts.update(ch for ch in norm if _is_cjk(ch))
            self.bigrams.update(norm[i : i + 2] for i in range(len(norm) - 1) if _is_cjk(norm[i]) and _is_cjk(norm[i + 1]))
        self._chars_by_sound: dict[str, set[str]] = defaultdict(set)
        for gram in self.bigrams:
            for ch in gram:
                self._chars_by_sound[reading(ch)].add(ch)

    def _known(self, gram: str) -> bool:
        return gram in self.bigrams

    def correct(self, norm_question: str) -> str:
        """The normalised question with homophone typos replaced; unchanged when there are none."""
        chars = list(norm_question)
        for j, ch in enumerate(chars):
            if not _is_cjk(ch) or ch in _FUNCTION_CHARS:
                continue
            left = chars[j - 1] if j > 0 and _is_cjk(chars[j - 1]) else ""
            right = chars[j + 1] if j + 1 < len(chars) and _is_cjk(chars[j + 1]) else ""
            if not (left or right) or (left and self._known(left + ch)) or (right and self._known(ch + right)):
                continue
            # A replacement must form a known word with a content neighbour: "的问" proves nothing.
            left = "" if left in _FUNCTION_CHARS else left
            right = "" if right in _FUNCTION_CHARS else right
            best, best_key = ch, (0, 0)
            for candidate in self._chars_by_sound.get(reading(ch), ()):
                fits = [g for g in ((left + candidate) if left else "", (candidate + right) if right else "") if g]
                hits = [g for g in fits if self._known(g)]
                key = (len(hits), sum(self.bigrams[g] for g in hits))
                # A character the corpus uses often ("出" in 提出, 突出) is more likely meant
                # than mistyped: replacing it needs a known word on both sides.
                needed = 2 if self._char_counts[ch] >= _COMMON_CHAR else 1
                if len(hits) >= needed and key > best_key:
                    best, best_key = candidate, key
            chars[j] = best
        return "".join(chars)
