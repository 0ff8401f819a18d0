"""General Chinese dictionaries, shipped in their wheels (offline): jieba's words and
part-of-speech tagger, and pypinyin's readings.

Loading them takes about a second (jieba's dictionary holds half a million words), so none
loads at import: the first use does, or `load_in_background` right after a start, so that
start-up does not wait for them and a first question seldom does.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Container
from functools import lru_cache
from typing import Any

# Two threads may both call a loader before its result is cached; that is harmless: imports
# are locked, and jieba initialises its dictionary once under its own lock.


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba  # type: ignore[import-untyped]
    import jieba.posseg  # type: ignore[import-untyped]

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=1)
def _pypinyin() -> Any:
    import pypinyin  # type: ignore[import-untyped]

    return pypinyin


class _Words(Container[str]):
    """jieba's words and every word's beginning; the dictionary is loaded on the first look-up."""

    def __contains__(self, word: object) -> bool:
        return word in _jieba().dt.FREQ


def words() -> Container[str]:
    """Words (and every word's beginning) of jieba's dictionary."""
    return _Words()


def is_word(text: str) -> bool:
    """Whether a text is a word of jieba's dictionary itself, not only a word's beginning."""
    return bool(_jieba().dt.FREQ.get(text))


def cut(text: str) -> list[str]:
    """jieba's words of a text."""
    return list(_jieba().cut(text))


def pos_tokens(text: str) -> list[tuple[str, str]]:
    """jieba's (word, part of speech) pairs for a text."""
    return [(w.word, w.flag) for w in _jieba().posseg.cut(text)]


@lru_cache(maxsize=50000)
def reading(ch: str) -> str:
    """The toneless pinyin of a character's most common reading."""
    pypinyin = _pypinyin()
    return str(pypinyin.lazy_pinyin(ch, style=pypinyin.Style.NORMAL)[0])


@lru_cache(maxsize=50000)
def all_readings(ch: str) -> tuple[str, ...]:
    """Every toneless pinyin reading of a character, its most common first (藏: cang, zang)."""
    pypinyin = _pypinyin()
    found = pypinyin.pinyin(ch, style=pypinyin.Style.NORMAL, heteronym=True)[0]
    return tuple(dict.fromkeys([reading(ch), *found]))


def _load() -> None:
    # Their tables are a great many small objects that live as long as the process; while they
    # are made, the collector would walk the loaded model's objects again and again (pypinyin:
    # 0.1 s of CPU without collections, 0.7 s with).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _jieba()
        _pypinyin()
    except Exception:  # the first use raises the same error, where it can be reported
        pass
    finally:
        if collecting:
            gc.enable()


def load_in_background() -> threading.Thread:
    """Start loading the dictionaries on a daemon thread; a use meanwhile waits for its own."""
    thread = threading.Thread(target=_load, name="dictionaries", daemon=True)
    thread.start()
    return thread
