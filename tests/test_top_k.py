"""Partial top-k selection picks exactly what a stable full sort picks, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieve.retrieval import top_indices


def full_sort(scores: np.ndarray, k: int, positive_only: bool = False) -> list[int]:
    order = np.argsort(-scores, kind="stable")[: max(k, 0)]
    return [int(i) for i in order if not positive_only or scores[i] > 0]


@pytest.mark.parametrize("seed", range(6))
def test_partial_selection_equals_the_stable_full_sort_on_data_with_many_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(1, 400))
        # Few distinct values: most scores tie with others, often right at the k-th place.
        scores = rng.integers(-3, 4, size=n).astype(np.float32)
        if rng.random() < 0.3:
            scores[rng.random(n) < 0.3] = -np.inf  # chunks outside the chosen documents
        for k in (1, 2, int(rng.integers(1, n + 1)), n - 1, n, n + 5):
            assert top_indices(scores, k) == full_sort(scores, k), (n, k)
            assert top_indices(scores, k, positive_only=True) == full_sort(scores, k, positive_only=True)


def test_partial_selection_on_continuous_scores_and_edge_sizes() -> None:
    scores = np.random.default_rng(7).normal(size=10_000).astype(np.float32)
    assert top_indices(scores, 20) == full_sort(scores, 20)
    assert top_indices(scores, 0) == []
    assert top_indices(np.zeros(0, dtype=np.float32), 5) == []
    assert top_indices(np.array([1.0, 1.0, 1.0], dtype=np.float32), 2) == [0, 1]


def test_nan_scores_rank_last_as_in_the_full_sort() -> None:
    scores = np.array([np.nan, 1.0, np.nan, 0.5], dtype=np.float32)
    assert top_indices(scores, 3) == full_sort(scores, 3) == [1, 3, 0]
