"""Fit the answer scorer: logistic weights over candidate features, and the refusal threshold.

For every question of the training sets, each eligible candidate sentence is composed into
the answer it would give; it is a positive example when that answer holds the question's
expected facts. A logistic regression over the features (qa/answer/scoring.py) is fitted on
all candidates; the refusal threshold is the probability that, applied to each question's
best candidate, gets the most questions right (answered correctly, or refused when the
documents do not answer). The result is written to qa/answer/weights.json with the data and
the figures of the fit:

    qa fit eval/golden.jsonl=corpus eval/library/dev.jsonl=eval/library/docs
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.answer.scoring import FEATURES, WEIGHTS_PATH, Weights
from qa.evaluate.evaluation import GoldenQuestion, holds_facts
from qa.fileio import write_text_atomic

FIT_COMMAND = "qa fit eval/golden.jsonl=corpus eval/library/dev.jsonl=eval/library/docs"

if TYPE_CHECKING:
    from qa.service import QAService


@dataclass(frozen=True)
class QuestionRows:
    """One question's candidates: features, labels."""

    golden: GoldenQuestion
    x: np.ndarray
    y: np.ndarray


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
    return QuestionRows(golden, x, labels)


def best_threshold(rows: Sequence[QuestionRows], weights: Weights) -> tuple[float, int]:
    """The refusal threshold that gets most questions right with these weights, and how many."""
    outcomes = []  # (best probability, right when answered, right when refused)
    for r in rows:
        if not len(r.y):
            outcomes.append((0.0, False, not r.golden.answerable))
            continue
        p = weights.score(r.x)
        top = int(np.argmax(p))
        outcomes.append((float(p[top]), bool(r.y[top]) and r.golden.answerable, not r.golden.answerable))
    cuts = sorted({0.0, 1.0, *(p for p, _, _ in outcomes)})
    best = (0.5, -1)
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        t = (lo + hi) / 2
        right = sum(ok_answer if p >= t else ok_refuse for p, ok_answer, ok_refuse in outcomes)
        if right > best[1]:
            best = (t, right)
    return best


def fit(rows: Sequence[QuestionRows], c: float = 1.0) -> Weights:
    """Logistic weights over every candidate of every question, then the best threshold."""
    from sklearn.linear_model import LogisticRegression

    xs = [r.x for r in rows if len(r.y)]
    ys = [r.y for r in rows if len(r.y)]
    x, y = np.vstack(xs), np.concatenate(ys)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    weights = Weights(tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]), 0.5)
    threshold, _ = best_threshold(rows, weights)
    return Weights(weights.coef, weights.bias, threshold)


def run_fit(sets: Sequence[tuple[Path, Sequence[GoldenQuestion], QAService]], out: Path = WEIGHTS_PATH) -> dict[str, Any]:
    """Fit on the questions of `sets`, each asked of its own library, and write the weights file."""
    started = time.perf_counter()
    rows = [question_rows(service, q) for _, questions, service in sets for q in questions]
    weights = fit(rows)
    _, right = best_threshold(rows, weights)
    candidates = int(sum(len(r.y) for r in rows))
    data = {
        "features": list(FEATURES),
        "coef": [round(v, 6) for v in weights.coef],
        "bias": round(weights.bias, 6),
        "threshold": round(weights.threshold, 6),
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
