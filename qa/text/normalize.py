"""Text normalisation for matching: NFKC, traditional → simplified, whitespace removed.

What users see is always the original text; normalised text is only compared. Every
function here keeps a one-character-to-one-character mapping where offsets matter, so a
position in normalised text is a position in the original.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc  # type: ignore[import-untyped]

_converter = opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def _char_nfkc(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    # Keep exactly one character per character; expansions such as "㎡" → "m2" keep the
    # original so offsets stay aligned.
    return folded if len(folded) == 1 else ch


def fold_chars(text: str) -> str:
    """NFKC each character (full-width → half-width), lower-case; same length as the input."""
    # One table for the distinct characters, applied in C: linear in the text, not per-character Python.
    return text.translate({ord(ch): _char_nfkc(ch) for ch in set(text)}).lower()


def _dictionary_keys() -> frozenset[str]:
    """Every key (phrase or character) of the t2s dictionaries: text holding none is left as it is."""
    _converter.convert("")  # loads the dictionaries
    return frozenset(key for group in _converter._dict_chain_data for _, _, table in group for key in table)


_KEYS = _dictionary_keys()
_KEY_STARTS = frozenset(key[0] for key in _KEYS)
_LONGEST_KEY = max(map(len, _KEYS))


def _holds_key(segment: str) -> bool:
    """Whether a dictionary key occurs in the segment: only then can OpenCC change it."""
    if _KEY_STARTS.isdisjoint(segment):
        return False
    for i, ch in enumerate(segment):
        if ch in _KEY_STARTS and any(segment[i:j] in _KEYS for j in range(i + 1, min(len(segment), i + _LONGEST_KEY) + 1)):
            return True
    return False


@lru_cache(maxsize=65536)
def _convert_segment(segment: str) -> str:
    converted: str = _converter.convert(segment)
    return converted


def _convert(text: str) -> str:
    """What `_converter.convert(text)` returns, fast: OpenCC converts each run between its separators
    on its own, so runs holding none of its dictionary keys are kept as they are, and the rest
    are converted once each (cached)."""
    pieces = _converter.split_chars_re.split(text)
    for i in range(0, len(pieces), 2):  # even places are text, odd places the separators between
        piece = pieces[i]
        if piece and _holds_key(piece):
            pieces[i] = _convert_segment(piece)
    return "".join(pieces)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC (character for character in practice)."""
    converted = _convert(text)
    # OpenCC's t2s table maps characters one to one for the texts here; if a phrase ever
    # changes length, fall back to per-character conversion so offsets stay valid.
    if len(converted) == len(text):
        return converted
    return "".join(_char_simplified(ch) for ch in text)


@lru_cache(maxsize=65536)
def _char_simplified(ch: str) -> str:
    converted = _convert(ch)
    return converted if len(converted) == 1 else ch


def normalize_aligned(text: str) -> str:
    """Fold and simplify without changing length: position i here is position i in `text`."""
    return to_simplified(fold_chars(text))


@lru_cache(maxsize=16384)
def normalize(text: str) -> str:
    """Normalise for matching: NFKC, simplified, lower-case, all whitespace removed.
    Cached: answering normalises the same candidate sentences question after question."""
    return "".join(normalize_aligned(text).split())


OPENING_CHARS = 20_000  # how far into a document a question's 文号 or name is looked for (qa.answer.scope)


def normalized_opening(text: str) -> str:
    """A document's opening (its first OPENING_CHARS characters) normalised: computed at build, saved with the index."""
    return normalize(text[:OPENING_CHARS])


def char_bigrams(text: str) -> list[str]:
    """Character bigrams of normalised text, plus single characters for one-character input.

    Runs of ASCII letters and digits stay whole tokens ("2025", "5g") so that numbers
    match as numbers, not as digit pairs.
    """
    norm = normalize(text)
    tokens: list[str] = []
    run = ""
    cjk: list[str] = []

    def flush_cjk() -> None:
        if len(cjk) == 1:
            tokens.append(cjk[0])
        tokens.extend(cjk[i] + cjk[i + 1] for i in range(len(cjk) - 1))
        cjk.clear()

    for ch in norm:
        if ch.isascii() and ch.isalnum():
            if cjk:
                flush_cjk()
            run += ch
            continue
        if run:
            tokens.append(run)
            run = ""
        if unicodedata.category(ch)[0] in "LN":
            cjk.append(ch)
        elif cjk:
            flush_cjk()
    if run:
        tokens.append(run)
    if cjk:
        flush_cjk()
    return tokens
