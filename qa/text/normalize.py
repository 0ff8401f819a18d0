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
    return "".join(_char_nfkc(ch) for ch in text).lower()


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC (character for character in practice)."""
    converted: str = _converter.convert(text)
    # OpenCC's t2s table maps characters one to one for the texts here; if a phrase ever
    # changes length, fall back to per-character conversion so offsets stay valid.
    if len(converted) == len(text):
        return converted
    return "".join(_converter.convert(ch) if len(_converter.convert(ch)) == 1 else ch for ch in text)


def normalize_aligned(text: str) -> str:
    """Fold and simplify without changing length: position i here is position i in `text`."""
    return to_simplified(fold_chars(text))


def normalize(text: str) -> str:
    """Normalise for matching: NFKC, simplified, lower-case, all whitespace removed."""
    return "".join(normalize_aligned(text).split())


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
