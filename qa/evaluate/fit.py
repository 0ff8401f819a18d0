"""Fit the answer scorer: logistic weights over candidate features, and the answerability model.

For every question of the training sets, each eligible candidate sentence is composed into
the answer it would give; it is a positive example when that answer holds the question's
expected facts. A conditional logit over the features (qa/answer/scoring.py), a softmax over each
question's own candidates, ranks them: it learns which candidate of a question answers, not how
likely any candidate is, and on held-out documents it puts the right one first more often than a
logistic regression over all candidates pooled. That logistic regression is still fitted, for each
candidate's own probability. A third model, the answerability model, gives the probability that answering
with a question's best candidate is right rather than refusing: it is fitted on the questions
where one of the two is right (the best candidate answers, or the documents do not), on the
classes as they come, so that the probability is calibrated and answering when it is at least
one half (the threshold) gets the most questions right. It learns from the ranker's choices on
questions the ranker was not fitted on (out of fold, by document), as it will meet them on
documents it has never seen. The result is written to qa/answer/weights.json with the data and
the figures of the fit:

    qa fit eval/golden.jsonl=corpus eval/library/dev.jsonl=eval/library/docs eval/library/dev2.jsonl=eval/library/docs eval/library/dev3.jsonl=eval/library/docs eval/library/dev4.jsonl=eval/library/docs

`qa fit --cross-validate` (same sets) writes nothing: it fits without each document in turn and
reports how that document's questions fare, the figure to compare when features change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.answer.extract import answerability_features
from qa.answer.scoring import ANSWERABILITY_FEATURES, FEATURES, WEIGHTS_PATH, Weights
from qa.evaluate.evaluation import GoldenQuestion, holds_facts
from qa.fileio import write_text_atomic
from qa.retrieve.retrieval import RetrievalResult

FIT_COMMAND = "qa fit eval/golden.jsonl=corpus eval/library/dev.jsonl=eval/library/docs eval/library/dev2.jsonl=eval/library/docs eval/library/dev3.jsonl=eval/library/docs eval/library/dev4.jsonl=eval/library/docs eval/library/dev5.jsonl=eval/library/docs eval/library/dev6.jsonl=eval/library/docs eval/library/dev7.jsonl=eval/library/docs"

# How much less the weights of the vector gap are penalised than the others' (a factor on those
# features). Leaving each document out, on the twelve development sets: 1086 of 1304 questions
# right without the gap; with it, 1092 at 3, 1098 at 5, 1089 at 10.
GAP_SCALE = 5.0

if TYPE_CHECKING:
    from qa.service import QAService


@dataclass(frozen=True)
class QuestionRows:
    """One question's candidates: features, labels, and what the answerability model sees."""

    golden: GoldenQuestion
    x: np.ndarray
    y: np.ndarray
    retrieval: RetrievalResult
    doc_missing: np.ndarray  # per candidate: the share of the question's topic words its document never writes
    gaps: np.ndarray | None = None  # per candidate: |question vector − sentence vector| (float32), when the index has vectors
    model: str = ""  # the fingerprint of the embedding model those vectors come from


def question_rows(service: QAService, golden: GoldenQuestion, mode: str = "hybrid") -> QuestionRows:
    """Features and labels of a question's eligible candidates."""
    _, intent, retrieval, named = service.prepare(golden.question, 5, mode)
    answerer = service.answerer
    candidates, x, _ = answerer.scored(intent, retrieval, named)
    labels = np.zeros(len(candidates))
    if golden.answerable:
        for n, c in enumerate(candidates):
            spans, _, joiner = answerer.compose(c.sentence, intent)
            text = joiner.join(service.index.documents[d].text[a:b] for d, a, b in spans)
            labels[n] = float(holds_facts(text, golden.all_of, golden.any_of))
    missing = np.array([answerer.doc_missing(intent, c.sentence.doc_id) for c in candidates])
    if answerer.vectors is None or retrieval.query_vector is None:
        return QuestionRows(golden, x, labels, retrieval, missing)
    gaps = np.zeros((len(candidates), answerer.vectors.shape[1]), dtype=np.float32)
    for n, c in enumerate(candidates):
        gaps[n] = answerer.sentence_gap(c.sentence, retrieval.query_vector)
    return QuestionRows(golden, x, labels, retrieval, missing, gaps, service.index.manifest.model_fingerprint)


def _outcomes(rows: Sequence[QuestionRows], ranker: Weights) -> list[tuple[np.ndarray | None, bool, bool]]:
    """Per question: answerability features of its best candidate, right when answered, right when refused."""
    out: list[tuple[np.ndarray | None, bool, bool]] = []
    for r in rows:
        if not len(r.y):
            out.append((None, False, not r.golden.answerable))
            continue
        order = ranker.order(r.x)
        top = int(order[0])
        gap = r.gaps[top].astype(np.float64) if r.gaps is not None else None
        features = answerability_features(r.x, ranker.score(r.x), order, r.retrieval, float(r.doc_missing[top]), gap)
        out.append((features, bool(r.y[top]) and r.golden.answerable, not r.golden.answerable))
    return out


def questions_right(outcomes: Sequence[tuple[np.ndarray | None, bool, bool]], weights: Weights) -> int:
    """How many questions these weights get right: answered correctly, or refused when unanswerable."""
    right = 0
    for f, ok_answer, ok_refuse in outcomes:
        answers = f is not None and weights.answerability(f) >= weights.threshold
        right += int(ok_answer if answers else ok_refuse)
    return right


def _document_of(row: QuestionRows) -> str:
    """The document a question is about: as its set records it, else the one its top passage comes from."""
    if row.golden.doc:
        return row.golden.doc
    return row.retrieval.passages[0].chunk.doc_id if row.retrieval.passages else ""


def _fit_ranker(rows: Sequence[QuestionRows], c: float) -> Weights:
    """The candidate probability model over every candidate of every question, and the ranker."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([r.x for r in rows if len(r.y)])
    y = np.concatenate([r.y for r in rows if len(r.y)])
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return Weights(tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]), 0.5, rank_coef=_fit_conditional_logit(rows, c))


def _fit_conditional_logit(rows: Sequence[QuestionRows], c: float) -> tuple[float, ...]:
    """Weights under which each question's right candidates are likeliest among its own candidates
    (a softmax over the question's candidates), with the L2 penalty of scikit-learn's C. Only which
    candidate of a question is right is learnt, not how likely any is: questions whose candidates
    are all right or all wrong teach nothing."""
    from scipy.optimize import minimize

    questions = [(r.x, r.y > 0) for r in rows if len(r.y) and r.y.any() and not r.y.all()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 / c * float(w @ w), w / c
        for x, right in questions:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            p_right = p[right].sum()
            total -= float(np.log(p_right))
            grad = grad - (p[right] @ x[right]) / p_right + p @ x
        return total, grad

    if not questions:
        return ()
    return tuple(float(v) for v in minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B").x)


def _out_of_fold_outcomes(rows: Sequence[QuestionRows], c: float, folds: int) -> list[tuple[np.ndarray | None, bool, bool]]:
    """Each question's outcome under a ranker fitted without its document's fold of documents."""
    documents = sorted({_document_of(r) for r in rows})
    fold_of = {d: n % folds for n, d in enumerate(documents)}
    outcomes: list[tuple[np.ndarray | None, bool, bool] | None] = [None] * len(rows)
    for fold in range(folds):
        inside = [i for i, r in enumerate(rows) if fold_of[_document_of(r)] == fold]
        training = [r for r in rows if fold_of[_document_of(r)] != fold]
        if not inside or not any(len(r.y) and r.y.any() for r in training):
            continue
        for i, outcome in zip(inside, _outcomes([rows[i] for i in inside], _fit_ranker(training, c)), strict=True):
            outcomes[i] = outcome
    return [o if o is not None else (None, False, not r.golden.answerable) for o, r in zip(outcomes, rows, strict=True)]


def fit(rows: Sequence[QuestionRows], c: float = 1.0, folds: int = 5, gap_scale: float = GAP_SCALE) -> Weights:
    """The candidate ranker over every candidate of every question; then the answerability model (threshold one half)."""
    ranker = _fit_ranker(rows, c)
    documents = {_document_of(r) for r in rows}
    outcomes = _out_of_fold_outcomes(rows, c, folds) if len(documents) >= folds else _outcomes(rows, ranker)
    n = len(ANSWERABILITY_FEATURES)
    answer_coef, answer_bias = _fit_answerability([(f[:n] if f is not None else None, a, r) for f, a, r in outcomes], c)
    weights = Weights(ranker.coef, ranker.bias, 0.5, answer_coef, answer_bias, ranker.rank_coef)
    models = {r.model for r in rows}
    if len(models) != 1 or "" in models:
        return weights  # vectors of one model for every question, or no answerability model reading them
    # The vector gap as more features, each scaled so that its weights are penalised less than
    # the others' (scikit-learn's one C for all): the scale was chosen by leaving documents out.
    scaled = [(np.concatenate([f[:n], f[n:] * gap_scale]) if f is not None else None, a, r) for f, a, r in outcomes]
    coef, bias = _fit_answerability(scaled, c)
    return replace(weights, gap_model=models.pop(), gap_answer_coef=coef[:n], gap_answer_bias=bias, gap_coef=tuple(v * gap_scale for v in coef[n:]))


def _fit_answerability(outcomes: Sequence[tuple[np.ndarray | None, bool, bool]], c: float) -> tuple[tuple[float, ...], float]:
    """The probability that answering is right (the best candidate answers) rather than refusing (the
    question is unanswerable). Questions answerable but with a wrong best candidate are wrong either
    way and teach nothing. Fitted on the classes as they come, the probability is calibrated, and
    answering when it is at least one half gets the most questions right."""
    from sklearn.linear_model import LogisticRegression

    decided = [(f, ok_answer) for f, ok_answer, ok_refuse in outcomes if f is not None and (ok_answer or ok_refuse)]
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(np.vstack([f for f, _ in decided]), np.array([ok_answer for _, ok_answer in decided], dtype=float))
    return tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0])


@dataclass(frozen=True)
class FoldResult:
    """One document's questions under weights fitted without them."""

    document: str
    answered: int  # answerable questions whose best candidate answers them, above the threshold
    answerable: int
    refused: int  # unanswerable questions refused
    unanswerable: int


def cross_validate(rows: Sequence[QuestionRows], c: float = 1.0, folds: int = 5) -> list[FoldResult]:
    """Leave one document out: fit on the questions of every other document, judge that document's.

    This is how the weights fare on a document they have never seen; the in-sample figure of
    `run_fit` is always the higher one.
    """
    results = []
    for document in sorted({_document_of(r) for r in rows}):
        held = [r for r in rows if _document_of(r) == document]
        training = [r for r in rows if _document_of(r) != document]
        if not any(len(r.y) and r.y.any() for r in training):
            continue
        weights = fit(training, c, folds)
        answered = refused = 0
        for r, (f, ok_answer, ok_refuse) in zip(held, _outcomes(held, weights), strict=True):
            answers = f is not None and weights.answerability(f) >= weights.threshold
            answered += int(r.golden.answerable and answers and ok_answer)
            refused += int(not r.golden.answerable and not answers and ok_refuse)
        answerable = sum(r.golden.answerable for r in held)
        results.append(FoldResult(document, answered, answerable, refused, len(held) - answerable))
    return results


def training_rows(sets: Sequence[tuple[Path, Sequence[GoldenQuestion], QAService]]) -> list[QuestionRows]:
    return [question_rows(service, q) for _, questions, service in sets for q in questions]


def run_fit(sets: Sequence[tuple[Path, Sequence[GoldenQuestion], QAService]], out: Path = WEIGHTS_PATH) -> dict[str, Any]:
    """Fit on the questions of `sets`, each asked of its own library, and write the weights file."""
    started = time.perf_counter()
    rows = training_rows(sets)
    weights = fit(rows)
    right = questions_right(_outcomes(rows, weights), weights)
    candidates = int(sum(len(r.y) for r in rows))
    data = {
        "features": list(FEATURES),
        "coef": [round(v, 6) for v in weights.coef],
        "bias": round(weights.bias, 6),
        "rank_coef": [round(v, 6) for v in weights.rank_coef],
        "threshold": round(weights.threshold, 6),
        "answerability": {
            "features": list(ANSWERABILITY_FEATURES),
            "coef": [round(v, 6) for v in weights.answer_coef],
            "bias": round(weights.answer_bias, 6),
        },
        "answerability_with_vectors": {
            "features": list(ANSWERABILITY_FEATURES),
            "model_fingerprint": weights.gap_model,
            "gap_scale": GAP_SCALE,
            "coef": [round(v, 6) for v in weights.gap_answer_coef],
            "bias": round(weights.gap_answer_bias, 6),
            "gap_coef": [round(v, 6) for v in weights.gap_coef],
        },
        "fitted_on": {
            "sets": {
                str(path): {"questions": len(questions), "documents": sorted(service.index.documents)} for path, questions, service in sets
            },
            "model": sets[0][2].settings.model if sets else "",
            "questions": len(rows),
            "candidates": candidates,
            "positives": int(sum(r.y.sum() for r in rows)),
        },
        "figures": {
            "training questions right (answered correctly or refused)": f"{right}/{len(rows)}",
            "seconds": round(time.perf_counter() - started, 1),
        },
        "command": FIT_COMMAND,
    }
    write_text_atomic(out, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return data
