"""The answer scorer: features of a candidate sentence, and the weights fitted on them.

The weights and the refusal threshold live in `weights.json` beside this module, with the
questions and documents they were fitted on and the figures of that fit. They are written
only by `qa fit` (qa/evaluate/fit.py), never tuned by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import SettingsError

WEIGHTS_PATH = Path(__file__).with_name("weights.json")

# The features, in the order of the weight vector. Each is a number in about [0, 1].
FEATURES = (
    "dense",  # cosine of the question and the sentence embeddings (e5: query vs passage)
    "cover_sentence",  # IDF-weighted share of the question's content bigrams in the sentence
    "cover_context",  # … in its section path, line lead and previous sentence
    "cover_title",  # … in its document's title
    "passage_rr",  # 1 / rank of the best retrieved passage holding the sentence (0: none)
    "typed_question",  # the question asks for a typed fact (quantity, money, date, …)
    "type_match",  # the sentence holds the kind of thing asked for
    "measure_match",  # … in the measure asked (项, 元, 天…)
    "year_match",  # a year asked governs the sentence
    "year_other",  # the question asks a year and only other years govern the sentence
    "number_match",  # a number the question states is in the sentence
    "focus_sentence",  # the word next to the question word is in the sentence
    "focus_context",  # … in its section path or line lead
    "numbered_item",  # the sentence opens a numbered item (第X条, （一）, 一是)
    "length",  # log of the sentence length, scaled
    "role_date",  # a date question with a role, and the sentence holds that date of the document
    "lead_year",  # the sentence's line opens with a year asked ("到2025年")
    "dense_gap",  # dense minus the best dense among the question's candidates (0 for the closest)
    "cover_gap",  # cover_sentence minus the best among the question's candidates
    "cover_all",  # coverage by the sentence, its context and its document's title together
    "no_content",  # the question names nothing but its document and the field asked ("这份通知的文号")
    "field_match",  # no_content and the sentence holds the kind of thing asked for
    "subject_first",  # the sentence opens with a term of the question ("新产业是指……")
    "rarest_missing",  # the question's most specific word the library knows is not in the sentence or its context
    "focus_by_fact",  # the clause holding the fact asked for names the question's focus ("9大领域" for 几个领域)
    "segment_missing",  # share of the question's content phrases of which nothing is in the sentence, its context or title
    "cover_heading",  # coverage by the heading of the sentence's own section (a 解读's question, 五、申请时间)
    "focus_missing",  # the question has a focus word and neither the sentence nor its context holds it
)


# Features of a question's best candidate, for the answerability model that decides refusal.
ANSWERABILITY_FEATURES = (
    "best",  # the best candidate's probability
    "margin",  # its lead over the second best
    "cover_all",  # its coverage by sentence, context and title
    "cover_sentence",
    "dense",
    "no_content",
    "typed_question",
    "candidates",  # log of the number of eligible candidates, scaled
    "passage_dense",  # the top passage's dense score (BM25's scale grows with the library: not a feature)
    "rarest_missing",
    "segment_missing",
    "focus_missing",
    "doc_missing",  # share of the question's topic words that the best sentence's whole document never writes
)


def _logistic(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Weights:
    """Three fitted models. A conditional logit ranks one question's candidate sentences against
    each other; a logistic model gives each candidate's own probability of answering; and a
    logistic model over the best candidate decides whether it answers at all, in two variants:
    one over the candidate's features alone, and one that also reads the embedding model's
    vectors (used only on an index of the model it was fitted on)."""

    coef: tuple[float, ...]  # candidate probability (logistic)
    bias: float
    threshold: float  # answerability probability below which the answer is refused
    answer_coef: tuple[float, ...] = ()
    answer_bias: float = 0.0
    rank_coef: tuple[float, ...] = ()  # the ranker (conditional logit); the probability model's own weights without it
    # The answerability model that also reads the embedding model's view of the question and the best
    # sentence (|question vector − sentence vector|, one weight per dimension): used only with the
    # model whose vectors it was fitted on, else the answerability model above.
    gap_model: str = ""  # the embedding model's fingerprint
    gap_answer_coef: tuple[float, ...] = ()
    gap_answer_bias: float = 0.0
    gap_coef: tuple[float, ...] = ()

    def score(self, features: np.ndarray) -> np.ndarray:
        """Probabilities for a (candidates × features) matrix."""
        return _logistic(features @ np.asarray(self.coef, dtype=np.float64) + self.bias)

    def order(self, features: np.ndarray) -> np.ndarray:
        """One question's candidates (rows), best first."""
        coef = self.rank_coef or self.coef
        return np.argsort(-(features @ np.asarray(coef, dtype=np.float64)), kind="stable")

    def answerability(self, features: np.ndarray) -> float:
        """The probability that a question's best candidate answers it (the candidate's own probability without a model).

        `features` are ANSWERABILITY_FEATURES, followed by the vector gap of the question and
        the sentence when the index was built by the model of `gap_model`.
        """
        n = len(ANSWERABILITY_FEATURES)
        if self.gap_coef and len(features) == n + len(self.gap_coef):
            z = features[:n] @ np.asarray(self.gap_answer_coef) + features[n:] @ np.asarray(self.gap_coef) + self.gap_answer_bias
            return float(_logistic(np.asarray([z]))[0])
        if not self.answer_coef:
            return float(features[0])
        return float(_logistic(np.asarray([features[:n] @ np.asarray(self.answer_coef, dtype=np.float64) + self.answer_bias]))[0])

    @staticmethod
    def prior() -> Weights:
        """Equal weights on the evidence features: used only to produce the first training data."""
        coef = [0.0] * len(FEATURES)
        for name, value in (
            ("dense", 2.0),
            ("cover_sentence", 3.0),
            ("cover_context", 1.0),
            ("passage_rr", 1.0),
            ("type_match", 1.0),
            ("year_match", 1.0),
            ("focus_sentence", 0.5),
        ):
            coef[FEATURES.index(name)] = value
        return Weights(tuple(coef), -4.0, 0.3)


def load_weights(path: Path = WEIGHTS_PATH) -> Weights:
    """The fitted weights; the prior when none have been fitted yet."""
    if not path.exists():
        return Weights.prior()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(data["features"])
        if names != FEATURES:
            raise SettingsError(f"{path} 的特征与程序不一致，请运行 `qa fit` 重新拟合")
        coef = tuple(float(x) for x in data["coef"])
        bias, threshold = float(data["bias"]), float(data["threshold"])
        answer = data.get("answerability", {})
        if answer and tuple(answer["features"]) != ANSWERABILITY_FEATURES:
            raise SettingsError(f"{path} 的特征与程序不一致，请运行 `qa fit` 重新拟合")
        answer_coef = tuple(float(x) for x in answer.get("coef", ()))
        answer_bias = float(answer.get("bias", 0.0))
        gap = data.get("answerability_with_vectors", {})
        if gap and tuple(gap["features"]) != ANSWERABILITY_FEATURES:
            raise SettingsError(f"{path} 的特征与程序不一致，请运行 `qa fit` 重新拟合")
        gap_model = str(gap.get("model_fingerprint", ""))
        gap_answer_coef = tuple(float(x) for x in gap.get("coef", ()))
        gap_answer_bias = float(gap.get("bias", 0.0))
        gap_coef = tuple(float(x) for x in gap.get("gap_coef", ()))
        rank_coef = tuple(float(x) for x in data.get("rank_coef", ()))
        if rank_coef and len(rank_coef) != len(coef):
            raise ValueError("rank_coef 的长度与特征不一致")
        if gap_coef and len(gap_answer_coef) != len(ANSWERABILITY_FEATURES):
            raise ValueError("answerability_with_vectors 的长度与特征不一致")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"无法读取答案权重文件 {path}：{exc}") from None
    if not all(math.isfinite(x) for x in (*coef, bias, threshold, *answer_coef, answer_bias, *rank_coef, *gap_answer_coef, gap_answer_bias, *gap_coef)):
        raise SettingsError(f"答案权重文件 {path} 含有无效数值")
    return Weights(coef, bias, threshold, answer_coef, answer_bias, rank_coef, gap_model, gap_answer_coef, gap_answer_bias, gap_coef)
