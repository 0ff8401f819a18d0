"""The regression gate for staff golden questions: eval/staff.jsonl, graded with the real model.

Staff add these from the review page or with `qa golden add`. Once the file is committed,
every question in it must pass, as in eval/golden.jsonl; when eval/staff-baseline.json
exists, only questions that passed in it must still pass (so a question added because it
fails today can be committed before it is fixed):
    qa eval eval/staff.jsonl --save-baseline eval/staff-baseline.json
"""

from __future__ import annotations

import pytest

from qa.evaluate.evaluation import Run, compare, evaluate, load_baseline, load_golden, verdict
from qa.service import QAService
from qa.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

STAFF = PROJECT_ROOT / "eval" / "staff.jsonl"
STAFF_BASELINE = PROJECT_ROOT / "eval" / "staff-baseline.json"


@pytest.fixture(scope="module")
def staff_run(real_service: QAService) -> Run:
    if not STAFF.exists() or not STAFF.read_text(encoding="utf-8").strip():
        pytest.skip(f"{STAFF.name} is absent or empty: no staff golden questions yet")
    return evaluate(real_service, load_golden(STAFF), real_service.settings.retriever)


def test_staff_golden_questions_pass(staff_run: Run) -> None:
    by_id = {r.golden.id: r for r in staff_run.results}
    if STAFF_BASELINE.exists():
        comparison = compare(load_baseline(STAFF_BASELINE).outcomes, staff_run.outcomes)
        failing, headline = comparison.regressed, verdict(comparison)
    else:
        failing = [i for i, ok in staff_run.outcomes.items() if not ok]
        headline = f"{len(failing)} staff golden question(s) fail"
    details = [
        f"  {i} [{by_id[i].grade.reason}]\n      问：{by_id[i].golden.question}\n      答：{by_id[i].answer.answer}" for i in failing
    ]
    assert not failing, "\n".join([headline, *details])


def test_staff_citations_quote_the_document_exactly(staff_run: Run) -> None:
    bad = [r.golden.id for r in staff_run.results if not all(r.citations_valid)]
    assert not bad, f"citations whose text is not the document at their offsets: {bad}"
