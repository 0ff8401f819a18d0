"""The regression gate: the full golden set with the real model must not fall below eval/baseline.json.

Refresh the baseline deliberately, never from a test:
    .venv/bin/qa eval eval/golden.jsonl --save-baseline eval/baseline.json
"""

from __future__ import annotations

import pytest

from qa.evaluate.evaluation import Baseline, Run, compare, evaluate, load_baseline, load_golden, verdict
from qa.service import QAService
from qa.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

GOLDEN = PROJECT_ROOT / "eval" / "golden.jsonl"
BASELINE = PROJECT_ROOT / "eval" / "baseline.json"


@pytest.fixture(scope="module")
def baseline(real_service: QAService) -> Baseline:
    if not BASELINE.exists():
        pytest.fail(f"{BASELINE} is missing; create it with `qa eval eval/golden.jsonl --save-baseline eval/baseline.json`")
    recorded = load_baseline(BASELINE)
    if recorded.model != real_service.settings.model:
        pytest.skip(f"the baseline was recorded with model {recorded.model!r}, this run uses {real_service.settings.model!r}")
    return recorded


@pytest.fixture(scope="module")
def golden_run(real_service: QAService, baseline: Baseline) -> Run:
    return evaluate(real_service, load_golden(GOLDEN), baseline.retriever or real_service.settings.retriever)


def test_no_golden_question_regresses(golden_run: Run, baseline: Baseline) -> None:
    comparison = compare(baseline.outcomes, golden_run.outcomes)
    by_id = {r.golden.id: r for r in golden_run.results}
    details = [
        f"  {i} [{by_id[i].grade.reason}]\n      问：{by_id[i].golden.question}\n      答：{by_id[i].answer.answer}"
        for i in comparison.regressed
    ]
    assert not comparison.failed, "\n".join([verdict(comparison), *details])


def test_every_citation_quotes_the_document_exactly(golden_run: Run) -> None:
    spans = golden_run.metrics.citation_spans
    bad = [r.golden.id for r in golden_run.results if not all(r.citations_valid)]
    assert spans.passed == spans.total, f"citations whose text is not the document at their offsets: {bad}"
