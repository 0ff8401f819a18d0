"""Fitting the answer scorer: the ranker, and an answerability model that learns out of fold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qa.answer.scoring import ANSWERABILITY_FEATURES, FEATURES
from qa.evaluate.evaluation import GoldenQuestion
from qa.evaluate.fit import QuestionRows, _fit_answerability, _fit_ranker, _out_of_fold_outcomes, _outcomes, cross_validate, fit
from qa.retrieve.retrieval import RetrievalResult
from qa.types import Chunk, Passage

DENSE = FEATURES.index("dense")
COVER = FEATURES.index("cover_sentence")


def _rows(documents: int = 6, per_document: int = 8, seed: int = 0) -> list[QuestionRows]:
    """Questions whose right candidate has the highest coverage; some unanswerable ones with none."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(documents):
        for q in range(per_document):
            answerable = q % 4 != 0
            x = rng.random((5, len(FEATURES))) * 0.3
            y = np.zeros(5)
            if answerable:
                right = int(rng.integers(5))
                x[right, COVER] += 0.7
                x[right, DENSE] += 0.2
                y[right] = 1.0
            golden = GoldenQuestion(f"d{d}-q{q}", "问题", "text", "zh-Hans", ("事实",) if answerable else (), (), answerable, doc=f"doc-{d}")
            passage = Passage(Chunk(f"doc-{d}", "", 0, 2, "正文"), 1.0, dense_score=0.9, lexical_score=5.0)
            rows.append(QuestionRows(golden, x, y, RetrievalResult([passage]), np.zeros(5)))
    return rows


def test_the_fitted_ranker_puts_the_right_candidate_first() -> None:
    rows = _rows()
    weights = fit(rows)
    answerable = [r for r in rows if r.golden.answerable]
    assert all(r.y[int(weights.order(r.x)[0])] for r in answerable)
    assert all(r.y[int(np.argmax(weights.score(r.x)))] for r in answerable)
    assert weights.threshold == 0.5  # the answerability probability is calibrated: answer when right is likelier


def test_the_ranker_learns_only_what_tells_a_question_s_candidates_apart() -> None:
    rows = _rows()
    typed = FEATURES.index("typed_question")
    for n, r in enumerate(rows):
        r.x[:, typed] = float(n % 2)  # the same for every candidate of a question
    weights = fit(rows)
    assert abs(weights.rank_coef[typed]) < 1e-6
    assert weights.rank_coef[COVER] > 1.0  # the planted signal


def test_answerability_learns_from_rankers_that_never_saw_the_question_s_document() -> None:
    rows = _rows()
    outcomes = _out_of_fold_outcomes(rows, c=1.0, folds=3)
    # Documents doc-0 and doc-3 form one fold: their outcomes come from a ranker fitted on the others.
    fold = [i for i, r in enumerate(rows) if r.golden.doc in ("doc-0", "doc-3")]
    expected = _outcomes([rows[i] for i in fold], _fit_ranker([r for r in rows if r.golden.doc not in ("doc-0", "doc-3")], 1.0))
    for i, (features, right, refused) in zip(fold, expected, strict=True):
        got = outcomes[i]
        assert got[1:] == (right, refused)
        assert got[0] is not None and features is not None and np.allclose(got[0], features)


def test_cross_validation_judges_each_document_with_weights_fitted_without_it() -> None:
    rows = _rows()
    results = cross_validate(rows, folds=3)
    assert [r.document for r in results] == [f"doc-{d}" for d in range(6)]
    for r in results:
        held = [q for q in rows if q.golden.doc == r.document]
        assert r.answerable == sum(q.golden.answerable for q in held) and r.unanswerable == len(held) - r.answerable
        weights = fit([q for q in rows if q.golden.doc != r.document], folds=3)
        outcomes = _outcomes(held, weights)
        answered = sum(1 for q, (f, ok, _) in zip(held, outcomes, strict=True) if q.golden.answerable and ok and f is not None and weights.answerability(f) >= weights.threshold)
        assert r.answered == answered
    # The planted signal is learnt from the other documents: most questions come out right.
    assert sum(r.answered + r.refused for r in results) >= 0.8 * len(rows)


def test_answerability_learns_only_from_questions_one_decision_gets_right() -> None:
    rng = np.random.default_rng(1)
    answered = [(rng.random(4) + 0.5, True, False) for _ in range(20)]
    refused = [(rng.random(4), False, True) for _ in range(20)]
    coef, bias = _fit_answerability([*answered, *refused], 1.0)
    # An answerable question whose best candidate is wrong is wrong answered or refused: it changes nothing.
    wrong_either_way = [(rng.random(4) * 3, False, False) for _ in range(20)]
    assert _fit_answerability([*answered, *refused, *wrong_either_way, (None, False, True)], 1.0) == (coef, bias)
    assert bias + float(np.dot(coef, np.full(4, 1.0))) > 0 > bias + float(np.dot(coef, np.full(4, 0.5)))  # high features answer


def test_the_vector_gap_is_learnt_only_for_the_model_whose_vectors_it_read() -> None:
    rows = _rows(seed=1)
    rng = np.random.default_rng(2)
    with_gaps = []
    for r in rows:
        # An unanswerable question's candidates lie apart from it along the first dimension, whatever
        # their other features say: only the vector gap tells.
        gaps = rng.random((5, 8)).astype(np.float32) * 0.2
        gaps[:, 0] += 0.0 if r.golden.answerable else 0.8
        r.x[:, COVER] += 0.0 if r.golden.answerable else 0.7  # as well covered as the answerable ones
        with_gaps.append(replace(r, gaps=gaps, model="e5-fingerprint"))
    weights = fit(with_gaps, folds=3)
    assert weights.gap_model == "e5-fingerprint" and len(weights.gap_coef) == 8 and len(weights.gap_answer_coef) == len(ANSWERABILITY_FEATURES)
    assert weights.gap_coef[0] < -1.0  # the planted signal: apart means unanswerable
    outcomes = _outcomes(with_gaps, weights)
    n = len(ANSWERABILITY_FEATURES)
    refused_with = sum(weights.answerability(f) < 0.5 for (f, _, _), r in zip(outcomes, with_gaps, strict=True) if f is not None and not r.golden.answerable)
    refused_without = sum(weights.answerability(f[:n]) < 0.5 for (f, _, _), r in zip(outcomes, with_gaps, strict=True) if f is not None and not r.golden.answerable)
    assert refused_with > refused_without  # without the gap (another model's index) the plain model decides
    # Rows of two models, or without vectors, fit no gap model.
    mixed = [replace(r, model="other") if i % 2 else r for i, r in enumerate(with_gaps)]
    assert fit(mixed, folds=3).gap_coef == ()
    assert fit(rows, folds=3).gap_coef == ()
