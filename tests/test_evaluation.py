"""The evaluation runner: grading, metrics, comparison, reports, and one end-to-end run on the hash model."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.evaluate.evaluation import (
    Comparison,
    GoldenQuestion,
    GoldenSetError,
    QuestionResult,
    Run,
    Tally,
    citation_span_valid,
    compare,
    first_relevant_rank,
    grade,
    holds_facts,
    load_baseline,
    load_golden,
    mean_reciprocal_rank,
    parse_golden_line,
    percentile,
    recall_at_k,
    refusal_scores,
    retriever_modes,
    run_eval_command,
    summarise,
    verdict,
)
from qa.evaluate.report import render_html
from qa.fileio import write_text_atomic as write_atomic
from qa.service import QAService
from qa.settings import PROJECT_ROOT, Settings
from qa.types import Answer, Chunk, Citation, Document, Passage

DOC = Document(doc_id="d1", title="实施方案", text="到2025年，标准成果比例达到60%以上。牵头单位：国家标准化管理委员会。")


def cite(fragment: str, doc: Document = DOC) -> Citation:
    start = doc.text.index(fragment)
    return Citation(doc.doc_id, doc.title, "一、目标", fragment, start, start + len(fragment), 1.0, 0, len(doc.text))


def answer(text: str, *quotes: str, found: bool = True, passages: tuple[str, ...] = ()) -> Answer:
    chunks = tuple(Passage(Chunk("d1", "s", 0, len(p), p), score=1.0) for p in passages)
    return Answer("问题", found, text, "text" if found else "none", tuple(cite(q) for q in quotes), chunks, latency_ms=10.0)


def golden(all_of: tuple[str, ...] = (), any_of: tuple[str, ...] = (), answerable: bool = True, **kw: str) -> GoldenQuestion:
    return GoldenQuestion(
        kw.get("id", "q1"),
        kw.get("question", "问题"),
        kw.get("kind", "number"),
        kw.get("lang", "zh-Hans"),
        all_of,
        any_of,
        answerable,
    )


RATIO = golden(("60%以上", "2025"))
ISSUER = golden(any_of=("国家标准化管理委员会", "国家标准委"), kind="issuer")
UNANSWERABLE = golden(answerable=False, kind="unanswerable")


# ---------------------------------------------------------------- grading


def test_answer_with_every_fact_cited_passes() -> None:
    assert grade(RATIO, answer("到2025年，标准成果比例达到60%以上。", "到2025年，标准成果比例达到60%以上。")).passed


def test_facts_may_come_from_different_citations() -> None:
    assert grade(RATIO, answer("到2025年 … 60%以上", "到2025年", "60%以上")).passed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("标准成果比例达到60%以上。", "缺少：2025"),
        ("到2025年，标准成果比例达到一半。", "缺少：60%以上"),
    ],
)
def test_answer_missing_an_all_fact_fails(text: str, reason: str) -> None:
    result = grade(RATIO, answer(text, "到2025年，标准成果比例达到60%以上。"))
    assert not result.passed
    assert result.reason == reason


def test_fact_in_answer_but_not_in_any_citation_fails() -> None:
    result = grade(RATIO, answer("到2025年，标准成果比例达到60%以上。", "到2025年"))
    assert result == grade(RATIO, answer("到2025年，60%以上", "到2025年"))
    assert not result.passed
    assert result.reason == "未引用：60%以上"


def test_answer_without_citations_fails() -> None:
    assert grade(RATIO, answer("到2025年，标准成果比例达到60%以上。")).reason == "未引用：60%以上、2025"


def test_one_any_fact_is_enough() -> None:
    assert grade(ISSUER, answer("国家标准化管理委员会", "国家标准化管理委员会")).passed


def test_no_any_fact_fails() -> None:
    result = grade(ISSUER, answer("到2025年", "到2025年"))
    assert not result.passed
    assert result.reason == "缺少：国家标准化管理委员会 | 国家标准委"


def test_any_fact_must_be_cited_too() -> None:
    result = grade(ISSUER, answer("国家标准化管理委员会", "到2025年"))
    assert result.reason == "未引用：国家标准化管理委员会"


def test_all_and_any_are_both_required() -> None:
    both = golden(("2025",), ("国家标准委", "国家标准化管理委员会"))
    assert not grade(both, answer("到2025年", "到2025年")).passed
    assert grade(both, answer("到2025年 国家标准化管理委员会", "到2025年", "国家标准化管理委员会")).passed


def test_comparison_ignores_width_script_and_spaces() -> None:
    facts = golden(("60%以上", "國家標準化管理委員會"))
    text = "６０％ 以上，国家标准化 管理委员会"
    assert holds_facts(text, facts.all_of, facts.any_of)
    quote = "到2025年，标准成果比例达到60%以上。牵头单位：国家标准化管理委员会。"
    assert grade(facts, answer(text, quote)).passed


def test_refusal_of_an_answerable_question_fails() -> None:
    assert grade(RATIO, answer("未在文件中找到相关数字。", found=False)).reason == "拒答了"


def test_unanswerable_question_passes_only_when_refused() -> None:
    assert grade(UNANSWERABLE, answer("未在文件中找到相关数字。", found=False)).passed
    wrong = grade(UNANSWERABLE, answer("60%以上", "60%以上"))
    assert not wrong.passed
    assert wrong.reason == "回答了无法回答的问题"


def test_citation_span_validity() -> None:
    documents = {"d1": DOC}
    good = cite("60%以上")
    assert citation_span_valid(good, documents)
    assert not citation_span_valid(Citation("d1", "t", "s", "60%以上", good.start + 1, good.end + 1, 1.0, 0, 0), documents)
    assert not citation_span_valid(Citation("d2", "t", "s", "60%以上", good.start, good.end, 1.0, 0, 0), documents)
    assert not citation_span_valid(Citation("d1", "t", "s", "", 5, 999, 1.0, 0, 0), documents)


# ---------------------------------------------------------------- metrics


def test_first_relevant_rank_needs_all_facts_in_one_passage() -> None:
    passages = ["到2025年", "60%以上", "到２０２５年达到60%以上"]
    assert first_relevant_rank(RATIO, passages) == 3
    assert first_relevant_rank(RATIO, passages[:2]) is None
    assert first_relevant_rank(ISSUER, ["x", "国家标准委"]) == 2


def test_recall_at_k_and_mrr() -> None:
    ranks = [1, 2, None, 4]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 3) == 0.5
    assert recall_at_k(ranks, 5) == 0.75
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert recall_at_k([], 5) is None
    assert mean_reciprocal_rank([]) is None


def test_refusal_precision_and_recall() -> None:
    # (refused, answerable): 3 refusals, 2 of them right; 4 unanswerable questions, 2 refused.
    scores = refusal_scores([(True, False), (True, False), (True, True), (False, False), (False, False), (False, True)])
    assert (scores.refused, scores.unanswerable, scores.refused_unanswerable) == (3, 4, 2)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == 0.5
    nothing = refusal_scores([(False, True)])
    assert nothing.precision is None
    assert nothing.recall is None


def test_percentile_interpolates() -> None:
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    assert percentile([], 50) is None


def test_summarise_counts_by_kind_and_lang() -> None:
    rows = [
        (RATIO, answer("到2025年60%以上", "到2025年", "60%以上", passages=("到2025年60%以上",))),
        (ISSUER, answer("未找到", found=False, passages=("无关", "国家标准委"))),
        (golden(answerable=False, kind="unanswerable", lang="zh-Hant"), answer("未找到", found=False)),
    ]
    results = [
        QuestionResult(q, a, grade(q, a), first_relevant_rank(q, [p.chunk.text for p in a.passages]), (True,) * len(a.citations))
        for q, a in rows
    ]
    m = summarise(results)
    assert m.overall == Tally(2, 3)
    assert m.by_kind == {"issuer": Tally(0, 1), "number": Tally(1, 1), "unanswerable": Tally(1, 1)}
    assert m.by_lang == {"zh-Hans": Tally(1, 2), "zh-Hant": Tally(1, 1)}
    assert m.recall == {1: 0.5, 3: 1.0, 5: 1.0}
    assert m.mrr == 0.75
    assert (m.refusal.precision, m.refusal.recall) == (0.5, 1.0)
    assert m.citation_spans == Tally(2, 2)
    assert m.latency_p50 == 10.0


# ---------------------------------------------------------------- comparison


def test_compare_lists_regressions_and_fixes() -> None:
    baseline = {"a": True, "b": True, "c": False, "gone": True}
    current = {"a": True, "b": False, "c": True, "new": False}
    result = compare(baseline, current)
    assert result.regressed == ["b"]
    assert result.fixed == ["c"]
    assert result.missing == ["gone"]
    assert result.added == ["new"]
    assert result.failed
    assert "b" in verdict(result)


def test_lower_pass_rate_alone_is_a_regression() -> None:
    result = compare({"a": True, "b": False}, {"a": True, "b": False, "c": False})
    assert not result.regressed
    assert result.rate_dropped
    assert result.failed
    assert "低于基线" in verdict(result)


def test_equal_or_better_run_is_not_a_regression() -> None:
    assert not compare({"a": True, "b": False}, {"a": True, "b": False}).failed
    assert not compare({"a": True, "b": False}, {"a": True, "b": True}).failed
    assert verdict(Comparison([], [], [], [], Tally(1, 2), Tally(1, 2))) == "与基线相比没有退步"


def test_retriever_modes_deduplicate_and_default() -> None:
    assert retriever_modes(None, "hybrid") == ["hybrid"]
    assert retriever_modes(["bm25", "dense", "bm25"], "hybrid") == ["bm25", "dense"]
    with pytest.raises(QAError, match="未知的检索方式"):
        retriever_modes(["sparse"], "hybrid")


# ---------------------------------------------------------------- files


def test_load_golden_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"id": "a", "question": "q", "kind": "k", "lang": "l", "all": ["x"]}\n\n{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(GoldenSetError, match=r"g\.jsonl:3: 'question' 必须是非空的文字"):
        load_golden(path)
    path.write_text('{"id": "a", "question": "q", "kind": "k", "lang": "l", "all": [" "]}\n', encoding="utf-8")
    with pytest.raises(GoldenSetError, match="'all' 必须是由非空文字组成的列表"):
        load_golden(path)
    line = '{"id": "a", "question": "q", "kind": "k", "lang": "l"}\n'
    path.write_text(line * 2, encoding="utf-8")
    with pytest.raises(GoldenSetError, match="编号 'a' 重复"):
        load_golden(path)
    with pytest.raises(GoldenSetError, match="无法读取标准问题集"):
        load_golden(tmp_path / "missing.jsonl")


def test_the_golden_set_is_well_formed() -> None:
    questions = load_golden(PROJECT_ROOT / "eval" / "golden.jsonl")
    assert len(questions) >= 150
    assert all(q.all_of or q.any_of for q in questions if q.answerable)


def test_load_baseline_rejects_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"results": {"a": "yes"}}', encoding="utf-8")
    with pytest.raises(GoldenSetError, match="缺少 'results'"):
        load_baseline(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(GoldenSetError, match="不是有效的 JSON"):
        load_baseline(path)


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    write_atomic(target, "old")
    write_atomic(target, "新的")
    assert target.read_text(encoding="utf-8") == "新的"
    assert os.listdir(target.parent) == ["report.html"]
    assert target.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


def test_write_atomic_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["report.html"]


def test_html_report_escapes_everything() -> None:
    evil = '<script>alert("x")</script>'
    q = golden((evil,), id=f"id{evil}", question=f"问{evil}", kind=f"k{evil}", lang=f"l{evil}")
    a = Answer(evil, True, f"答{evil}", "text", (), (Passage(Chunk("d1", evil, 0, 5, evil), 1.0),), 1.0)
    result = QuestionResult(q, a, grade(q, a), None, ())
    run = Run(f"hybrid{evil}", [result], summarise([result]))
    page = render_html([run], Path(f"g{evil}.jsonl"), f"m{evil}")
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<svg" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<link" not in page and "src=" not in page


# ---------------------------------------------------------------- end to end on the hash model


def eval_args(golden_path: Path, **kw: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "golden": golden_path,
        "json": False,
        "report": None,
        "compare": None,
        "save_baseline": None,
        "retriever": None,
    }
    values.update(kw)
    return argparse.Namespace(**values)


@pytest.fixture()
def small_golden(tmp_path: Path) -> Path:
    lines = (PROJECT_ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    wanted = {"target-2025-sci-project-ratio", "docnum-kw", "unans-2030-national-standards", "issuer-sac-colloq"}
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(line for line in lines if json.loads(line)["id"] in wanted) + "\n", encoding="utf-8")
    return path


def test_runner_end_to_end(
    small_golden: Path, tmp_path: Path, hash_settings: Settings, hash_service: QAService, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    report = tmp_path / "report.html"
    args = eval_args(small_golden, retriever=["hybrid", "bm25", "dense"], report=report, save_baseline=baseline)
    assert run_eval_command(args, hash_settings, hash_service) == 0
    out = capsys.readouterr().out
    assert "hybrid" in out and "bm25" in out and "dense" in out
    for section in ("overall", "by kind", "by lang", "refusal", "recall@5", "MRR", "citation spans valid", "p95"):
        assert section in out
    assert "<svg" in report.read_text(encoding="utf-8")

    saved = json.loads(baseline.read_text(encoding="utf-8"))
    assert saved["retriever"] == "hybrid"
    assert sorted(saved["results"]) == sorted(json.loads(line)["id"] for line in small_golden.read_text().splitlines())
    assert saved["summary"]["overall"]["total"] == 4
    assert list(saved["results"]) == sorted(saved["results"])

    # Same run against its own baseline: no regression, exit 0, JSON on stdout.
    assert run_eval_command(eval_args(small_golden, json=True, compare=baseline), hash_settings, hash_service) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["retriever"] for r in data["runs"]] == ["hybrid"]
    assert data["comparison"]["regressed"] == []
    run = data["runs"][0]
    assert {r["id"] for r in run["results"]} == set(saved["results"])
    assert run["metrics"]["citation_spans"]["rate"] in (1.0, None)

    # Pretend a failing question used to pass: the gate fails and names it.
    failing = [i for i, ok in saved["results"].items() if not ok]
    passing = [i for i, ok in saved["results"].items() if ok]
    assert failing and passing, "the sample should hold both outcomes on the hash model"
    saved["results"][failing[0]] = True
    baseline.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    assert run_eval_command(eval_args(small_golden, compare=baseline), hash_settings, hash_service) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and failing[0] in out


def test_answers_to_a_question_naming_a_document_must_cite_only_it() -> None:
    named = parse_golden_line(
        '{"id": "n", "question": "《示例办法》规定多少？", "kind": "number", "lang": "zh-Hans", "all": ["60%以上"],'
        ' "doc": "d1", "names_doc": true}'
    )
    assert (named.doc, named.names_doc) == ("d1", True)
    right = answer("60%以上", "60%以上")
    wrong = replace(right, citations=tuple(replace(c, doc_id="other") for c in right.citations))
    results = [QuestionResult(named, a, grade(named, a), None, (True,) * len(a.citations)) for a in (right, wrong)]
    assert summarise(results).named_document == Tally(1, 2)
    assert summarise(results).median_answer_chars == len("60%以上")
    with pytest.raises(GoldenSetError, match="names_doc"):
        parse_golden_line('{"id": "n", "question": "q", "kind": "k", "lang": "l", "names_doc": "yes"}')
