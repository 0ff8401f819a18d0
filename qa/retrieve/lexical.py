"""The lexical index: BM25 (bm25s) over character bigrams of normalised text, saved as plain arrays."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from qa.text.normalize import char_bigrams

_EMPTY = "∅"  # the token of a passage with no bigram, so every passage has a row


class LexicalIndex:
    """BM25 over character bigrams of normalised text (numbers and Latin words kept whole)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._bm25 = bm25s.BM25()
        self._size = len(texts)
        if texts:
            self._bm25.index([char_bigrams(t) or [_EMPTY] for t in texts], show_progress=False)

    @property
    def size(self) -> int:
        """How many passages the index ranks."""
        return self._size

    def scores(self, query: str) -> np.ndarray:
        tokens = char_bigrams(query)
        if not tokens or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as numpy arrays (an .npz without pickles): the sparse score matrix and the vocabulary.

        Tokens never hold whitespace (normalisation removes it), so the vocabulary is one
        newline-joined UTF-8 text, in token-id order.
        """
        if not self._size:
            return {"size": np.array(0, dtype=np.int64)}
        vocab = self._bm25.vocab_dict
        tokens = sorted(vocab, key=vocab.__getitem__)
        if [vocab[t] for t in tokens] != list(range(len(tokens))) or any("\n" in t for t in tokens):
            raise ValueError("bm25s vocabulary ids are not 0..n-1")
        if self._bm25.nonoccurrence_array is not None:
            raise ValueError("a BM25 variant with non-occurrence scores is not saved")
        scores = self._bm25.scores
        return {
            "size": np.array(self._size, dtype=np.int64),
            "data": np.asarray(scores["data"]),
            "indices": np.asarray(scores["indices"]),
            "indptr": np.asarray(scores["indptr"]),
            "vocab": np.frombuffer("\n".join(tokens).encode("utf-8"), dtype=np.uint8),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LexicalIndex:
        """The index `to_arrays` saved, as bm25s.BM25.load would set it up: no text is tokenised again."""
        lexical = cls([])
        lexical._size = int(arrays["size"])
        if not lexical._size:
            return lexical
        tokens = bytes(arrays["vocab"]).decode("utf-8").split("\n")
        bm25 = lexical._bm25
        bm25.vocab_dict = {token: i for i, token in enumerate(tokens)}
        bm25.unique_token_ids_set = set(range(len(tokens)))
        bm25.nonoccurrence_array = None  # the default (lucene) method has none
        bm25.scores = {
            "data": arrays["data"],
            "indices": arrays["indices"],
            "indptr": arrays["indptr"],
            "num_docs": lexical._size,
        }
        if not len(tokens) - 1 <= len(arrays["indptr"]) - 1 <= len(tokens):  # bm25s adds an empty token after scoring
            raise ValueError("the lexical index's vocabulary and score matrix differ in size")
        return lexical
