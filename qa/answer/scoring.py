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
)


@dataclass(frozen=True)
class Weights:
    """A logistic model over FEATURES and the probability below which the answer is refused."""

    coef: tuple[float, ...]
    bias: float
    threshold: float

    def score(self, features: np.ndarray) -> np.ndarray:
        """Probabilities for a (candidates × features) matrix."""
        z = features @ np.asarray(self.coef, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

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
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"无法读取答案权重文件 {path}：{exc}") from None
    if not all(math.isfinite(x) for x in (*coef, bias, threshold)):
        raise SettingsError(f"答案权重文件 {path} 含有无效数值")
    return Weights(coef, bias, threshold)
