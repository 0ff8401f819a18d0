"""A general Chinese dictionary and part-of-speech tagger: jieba's, shipped in its wheel (offline)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba  # type: ignore[import-untyped]
    import jieba.posseg  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words() -> dict[str, int]:
    """Word (and every word's beginning, with frequency 0) → frequency in jieba's dictionary."""
    return _jieba().dt.FREQ  # type: ignore[no-any-return]


def pos_tokens(text: str) -> list[tuple[str, str]]:
    """jieba's (word, part of speech) pairs for a text."""
    return [(w.word, w.flag) for w in _jieba().posseg.cut(text)]
