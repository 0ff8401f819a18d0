"""Hybrid retrieval: dense (FAISS) and lexical (BM25 over character bigrams), fused by RRF."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from qa.retrieve.embedder import Embedder
from qa.retrieve.index import Index, index_text
from qa.retrieve.lexical import LexicalIndex
from qa.retrieve.vectors import FaissStore, VectorStore
from qa.types import Passage


def rrf_fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = 60) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank), rank counted from 1."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def top_indices(scores: np.ndarray, k: int, positive_only: bool = False) -> list[int]:
    """The indices of the k highest scores, best first, equal scores by index (as a stable full sort gives)."""
    order = _top_k_order(scores, k)
    return [int(i) for i in order if not positive_only or scores[i] > 0]


def _top_k_order(scores: np.ndarray, k: int) -> np.ndarray:
    """A partial selection, then a sort of only the k chosen: linear in the library, not n log n."""
    n = len(scores)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    negated = -np.asarray(scores)
    if k >= n:
        return np.argsort(negated, kind="stable")
    kth = np.partition(negated, k - 1)[k - 1]
    if np.isnan(kth):  # NaN scores sort last in the full sort; leave that rare case to it
        return np.argsort(negated, kind="stable")[:k]
    # Scores tied with the k-th are taken lowest index first, so ties break exactly as the full sort does.
    better = np.flatnonzero(negated < kth)
    tied = np.flatnonzero(negated == kth)[: k - len(better)]
    chosen = np.sort(np.concatenate([better, tied]))
    return chosen[np.argsort(negated[chosen], kind="stable")]


@dataclass(frozen=True)
class RetrievalResult:
    """Passages ranked for a question, best first."""

    passages: list[Passage]
    query_vector: np.ndarray | None = None  # the question's embedding, when the dense side ran


class Retriever:
    """Ranks an index's chunks for a question by dense, lexical or fused (hybrid) scores."""

    def __init__(
        self,
        embedder: Embedder,
        index: Index,
        candidate_k: int = 20,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
        store: VectorStore | None = None,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.store: VectorStore = store if store is not None else FaissStore(index.dense)
        self.rows_of_document: dict[str, list[int]] = {}
        for row, chunk in enumerate(index.chunks):
            self.rows_of_document.setdefault(chunk.doc_id, []).append(row)
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.weights = (dense_weight, lexical_weight)
        # Saved with the index at build; computed here only for an index assembled without it.
        saved = index.derived.lexical if index.derived is not None else None
        self.lexical = saved if saved is not None else LexicalIndex([index_text(index.document_of(c), c) for c in index.chunks])

    def search(
        self, question: str, top_k: int = 5, mode: str = "hybrid", doc_ids: Collection[str] | None = None
    ) -> RetrievalResult:
        """The top_k chunks for a question by dense, lexical (bm25) or fused (hybrid) ranking.

        With `doc_ids`, only chunks of those documents are ranked.
        """
        n = len(self.index.chunks)
        allowed_rows = None if doc_ids is None else np.array(sorted(r for d in set(doc_ids) for r in self.rows_of_document.get(d, ())), dtype=np.int64)
        allowed = None
        if allowed_rows is not None:
            allowed = np.zeros(n, dtype=bool)
            allowed[allowed_rows] = True
        dense_scores = np.zeros(n, dtype=np.float32)
        lexical_scores = np.zeros(n, dtype=np.float32)
        query: np.ndarray | None = None
        if mode != "bm25" and n:
            query = self.embedder.embed_queries([question])[0]
            # Restricted to some documents, every allowed chunk gets its score, as lexical-only passages show it.
            k = len(allowed_rows) if allowed_rows is not None else min(n, self.candidate_k)
            scores, ids = self.store.search(query, k, allowed_ids=allowed_rows)
            dense_scores[ids] = scores
        if mode != "dense":
            lexical_scores = self.lexical.scores(question)
        if allowed is not None:
            dense_scores = np.where(allowed, dense_scores, -np.inf).astype(np.float32)
            lexical_scores = np.where(allowed, lexical_scores, 0.0).astype(np.float32)
        dense_rank = [i for i in top_indices(dense_scores, self.candidate_k) if np.isfinite(dense_scores[i])] if mode != "bm25" else []
        lexical_rank = top_indices(lexical_scores, self.candidate_k, positive_only=True) if mode != "dense" else []
        if mode == "dense":
            ranked = [(i, float(dense_scores[i])) for i in dense_rank]
        elif mode == "bm25":
            ranked = [(i, float(lexical_scores[i])) for i in lexical_rank]
        else:
            ranked = rrf_fuse([dense_rank, lexical_rank], self.weights, self.rrf_k)
        d_pos = {c: r for r, c in enumerate(dense_rank, start=1)}
        l_pos = {c: r for r, c in enumerate(lexical_rank, start=1)}
        passages = [
            Passage(
                chunk=self.index.chunks[i],
                score=score,
                dense_rank=d_pos.get(i),
                lexical_rank=l_pos.get(i),
                dense_score=float(dense_scores[i]),
                lexical_score=float(lexical_scores[i]),
            )
            for i, score in ranked[:top_k]
        ]
        return RetrievalResult(passages, query)
