"""Grading answers against a golden set: pure grading and metrics, the runner, and its reports.

A golden question passes when its expected facts appear both in the answer and in a quote
the answer cites (or, for an unanswerable question, when the service declines). The runner
asks every question once per retriever on one loaded service, and can compare the run with
a saved baseline so that a change which breaks answers fails loudly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import QAError
from qa.fileio import write_text_atomic
from qa.settings import RETRIEVERS, Settings
from qa.text.normalize import normalize
from qa.types import Answer, Citation, Document

if TYPE_CHECKING:
    from qa.service import QAService

EVAL_TOP_K = 5
RECALL_AT = (1, 3, 5)


class GoldenSetError(QAError):
    """A golden-set or baseline file is missing or malformed."""


# ---------------------------------------------------------------- golden questions


@dataclass(frozen=True)
class GoldenQuestion:
    """One golden question: the facts a right answer holds (`all_of` every one, `any_of` at least one)."""

    id: str
    question: str
    kind: str
    lang: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    answerable: bool = True
    doc: str = ""  # the document that holds the answer, when the set records it
    names_doc: bool = False  # the question names that document: no other may be cited


def parse_golden_line(line: str, where: str = "") -> GoldenQuestion:
    """One JSON line as a GoldenQuestion, or a GoldenSetError naming what is wrong and where."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GoldenSetError(f"{where}不是有效的 JSON：{exc.msg}") from None
    if not isinstance(row, dict):
        raise GoldenSetError(f"{where}应为 JSON 对象")
    for key in ("id", "question", "kind", "lang"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise GoldenSetError(f"{where}{key!r} 必须是非空的文字")
    facts: dict[str, tuple[str, ...]] = {}
    for key in ("all", "any"):
        value = row.get(key, [])
        if not isinstance(value, list) or not all(isinstance(s, str) and normalize(s) for s in value):
            raise GoldenSetError(f"{where}{key!r} 必须是由非空文字组成的列表")
        facts[key] = tuple(value)
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        raise GoldenSetError(f"{where}'answerable' 必须是 true 或 false")
    doc, names_doc = row.get("doc", ""), row.get("names_doc", False)
    if not isinstance(doc, str) or not isinstance(names_doc, bool):
        raise GoldenSetError(f"{where}'doc' must be a string and 'names_doc' true or false")
    return GoldenQuestion(row["id"], row["question"], row["kind"], row["lang"], facts["all"], facts["any"], answerable, doc, names_doc)


def load_golden(path: Path) -> list[GoldenQuestion]:
    """Read a golden set: one JSON object a line, blank lines skipped, ids unique."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenSetError(f"无法读取标准问题集 {path}：{exc}") from None
    questions: list[GoldenQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        question = parse_golden_line(line, f"{path}:{number}: ")
        if question.id in seen:
            raise GoldenSetError(f"{path}:{number}: 编号 {question.id!r} 重复")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise GoldenSetError(f"标准问题集 {path} 中没有问题")
    return questions


# ---------------------------------------------------------------- grading (pure)


@dataclass(frozen=True)
class Grade:
    """Whether an answer passes, and if not, why in a few words."""

    passed: bool
    reason: str = ""


def holds_facts(text: str, all_of: Sequence[str], any_of: Sequence[str]) -> bool:
    """Whether normalised `text` contains every `all_of` string and, if any are given, one `any_of` string."""
    norm = normalize(text)
    if not all(normalize(s) in norm for s in all_of):
        return False
    return not any_of or any(normalize(s) in norm for s in any_of)


def grade(question: GoldenQuestion, answer: Answer) -> Grade:
    """Grade one answer: the expected facts must be in the answer and in a cited quote."""
    if not question.answerable:
        return Grade(True) if not answer.found else Grade(False, "回答了无法回答的问题")
    if not answer.found:
        return Grade(False, "拒答了")
    in_answer = normalize(answer.answer)
    quotes = [normalize(c.text) for c in answer.citations]

    def cited(fact: str) -> bool:
        return any(normalize(fact) in q for q in quotes)

    missing = [s for s in question.all_of if normalize(s) not in in_answer]
    uncited = [s for s in question.all_of if s not in missing and not cited(s)]
    if question.any_of:
        answered = [s for s in question.any_of if normalize(s) in in_answer]
        if not answered:
            missing.append(" | ".join(question.any_of))
        elif not any(cited(s) for s in answered):
            uncited.append(" | ".join(answered))
    if missing:
        return Grade(False, "缺少：" + "、".join(missing))
    if uncited:
        return Grade(False, "未引用：" + "、".join(uncited))
    return Grade(True)


def citation_span_valid(citation: Citation, documents: Mapping[str, Document]) -> bool:
    """Whether a citation quotes its document exactly at its offsets."""
    doc = documents.get(citation.doc_id)
    if doc is None or not 0 <= citation.start <= citation.end <= len(doc.text):
        return False
    return doc.text[citation.start : citation.end] == citation.text


def first_relevant_rank(question: GoldenQuestion, passage_texts: Sequence[str]) -> int | None:
    """The 1-based rank of the first passage holding the expected facts, or None."""
    for rank, text in enumerate(passage_texts, start=1):
        if holds_facts(text, question.all_of, question.any_of):
            return rank
    return None


# ---------------------------------------------------------------- metrics (pure)


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (an undefined rate, not zero)."""
    return part / whole if whole else None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions whose first relevant passage ranks within the top k."""
    return share(sum(1 for r in ranks if r is not None and r <= k), len(ranks))


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    """Mean of 1/rank of the first relevant passage (0 when none was retrieved)."""
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks) if ranks else None


@dataclass(frozen=True)
class RefusalScores:
    """Refusal as the positive class: precision over refused answers, recall over unanswerable questions."""

    refused: int
    unanswerable: int
    refused_unanswerable: int

    @property
    def precision(self) -> float | None:
        return share(self.refused_unanswerable, self.refused)

    @property
    def recall(self) -> float | None:
        return share(self.refused_unanswerable, self.unanswerable)


def refusal_scores(outcomes: Iterable[tuple[bool, bool]]) -> RefusalScores:
    """Count refusals from (refused, answerable) pairs."""
    pairs = list(outcomes)
    return RefusalScores(
        refused=sum(1 for refused, _ in pairs if refused),
        unanswerable=sum(1 for _, answerable in pairs if not answerable),
        refused_unanswerable=sum(1 for refused, answerable in pairs if refused and not answerable),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Tally:
    """passed out of total."""

    passed: int
    total: int

    @property
    def rate(self) -> float | None:
        return share(self.passed, self.total)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "rate": _round(self.rate)}


def tally_by(results: Sequence[tuple[str, bool]]) -> dict[str, Tally]:
    """Pass counts per group from (group, passed) pairs, groups sorted by name."""
    groups: dict[str, list[bool]] = {}
    for group, passed in results:
        groups.setdefault(group, []).append(passed)
    return {g: Tally(sum(v), len(v)) for g, v in sorted(groups.items())}


# ---------------------------------------------------------------- a run


@dataclass(frozen=True)
class QuestionResult:
    """One golden question as answered and graded."""

    golden: GoldenQuestion
    answer: Answer
    grade: Grade
    relevant_rank: int | None
    citations_valid: tuple[bool, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.golden.id,
            "kind": self.golden.kind,
            "lang": self.golden.lang,
            "question": self.golden.question,
            "expected_all": list(self.golden.all_of),
            "expected_any": list(self.golden.any_of),
            "answerable": self.golden.answerable,
            "passed": self.grade.passed,
            "reason": self.grade.reason,
            "found": self.answer.found,
            "answer": self.answer.answer,
            "citations": [
                {**c.to_json(), "valid": ok} for c, ok in zip(self.answer.citations, self.citations_valid, strict=True)
            ],
            "relevant_rank": self.relevant_rank,
            "latency_ms": round(self.answer.latency_ms, 2),
        }


@dataclass(frozen=True)
class Metrics:
    """The summary of one run."""

    overall: Tally
    by_kind: dict[str, Tally]
    by_lang: dict[str, Tally]
    refusal: RefusalScores
    recall: dict[int, float | None]
    mrr: float | None
    citation_spans: Tally
    named_document: Tally  # answers to questions naming a document that cite that document only
    median_answer_chars: float | None
    latency_p50: float | None
    latency_p95: float | None

    def to_json(self, with_latency: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "overall": self.overall.to_json(),
            "by_kind": {k: t.to_json() for k, t in self.by_kind.items()},
            "by_lang": {k: t.to_json() for k, t in self.by_lang.items()},
            "refusal": {
                "precision": _round(self.refusal.precision),
                "recall": _round(self.refusal.recall),
                "refused": self.refusal.refused,
                "unanswerable": self.refusal.unanswerable,
            },
            "retrieval": {**{f"recall@{k}": _round(v) for k, v in self.recall.items()}, "mrr": _round(self.mrr)},
            "citation_spans": self.citation_spans.to_json(),
            "named_document": self.named_document.to_json(),
            "median_answer_chars": _round(self.median_answer_chars, 1),
        }
        if with_latency:
            data["latency_ms"] = {"p50": _round(self.latency_p50, 1), "p95": _round(self.latency_p95, 1)}
        return data


def summarise(results: Sequence[QuestionResult]) -> Metrics:
    """Pass rates, refusal, retrieval, citation-span and latency metrics of a run."""
    ranks = [r.relevant_rank for r in results if r.golden.answerable]
    latencies = [r.answer.latency_ms for r in results]
    named = [r for r in results if r.golden.names_doc and r.golden.doc and r.answer.found]
    return Metrics(
        overall=Tally(sum(r.grade.passed for r in results), len(results)),
        by_kind=tally_by([(r.golden.kind, r.grade.passed) for r in results]),
        by_lang=tally_by([(r.golden.lang, r.grade.passed) for r in results]),
        refusal=refusal_scores((not r.answer.found, r.golden.answerable) for r in results),
        recall={k: recall_at_k(ranks, k) for k in RECALL_AT},
        mrr=mean_reciprocal_rank(ranks),
        citation_spans=Tally(sum(sum(r.citations_valid) for r in results), sum(len(r.citations_valid) for r in results)),
        named_document=Tally(
            sum(1 for r in named if {c.doc_id for c in r.answer.citations} <= {r.golden.doc}), len(named)
        ),
        median_answer_chars=percentile([len(r.answer.answer) for r in results if r.answer.found], 50),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
    )


@dataclass(frozen=True)
class Run:
    """Every golden question answered with one retriever."""

    retriever: str
    results: list[QuestionResult]
    metrics: Metrics

    @property
    def outcomes(self) -> dict[str, bool]:
        return {r.golden.id: r.grade.passed for r in self.results}

    def to_json(self) -> dict[str, Any]:
        return {"retriever": self.retriever, "metrics": self.metrics.to_json(), "results": [r.to_json() for r in self.results]}


def evaluate(
    service: QAService,
    questions: Sequence[GoldenQuestion],
    retriever: str,
    progress: Callable[[int, int], None] | None = None,
    doc_ids: Sequence[str] | None = None,
) -> Run:
    """Ask every golden question with one retriever (top 5 passages) and grade the answers.

    With `doc_ids`, each question is asked within those documents, as a user asks on a
    document's own page (`qa ask --doc`).
    """
    documents = service.index.documents
    results: list[QuestionResult] = []
    for done, question in enumerate(questions, start=1):
        answer = service.ask(question.question, top_k=EVAL_TOP_K, retriever=retriever, doc_ids=doc_ids)
        rank = first_relevant_rank(question, [p.chunk.text for p in answer.passages]) if question.answerable else None
        valid = tuple(citation_span_valid(c, documents) for c in answer.citations)
        results.append(QuestionResult(question, answer, grade(question, answer), rank, valid))
        if progress is not None:
            progress(done, len(questions))
    return Run(retriever, results, summarise(results))


# ---------------------------------------------------------------- baseline and comparison


def baseline_json(run: Run, model: str) -> dict[str, Any]:
    """A small, diff-friendly record of a run: per-question pass/fail plus the summary (no latency)."""
    return {
        "model": model,
        "retriever": run.retriever,
        "summary": run.metrics.to_json(with_latency=False),
        "results": dict(sorted(run.outcomes.items())),
    }


def dump_baseline(run: Run, model: str) -> str:
    return json.dumps(baseline_json(run, model), ensure_ascii=False, sort_keys=True, indent=1) + "\n"


@dataclass(frozen=True)
class Baseline:
    """A saved run to compare against."""

    model: str
    retriever: str
    outcomes: dict[str, bool]

    @property
    def overall(self) -> Tally:
        return Tally(sum(self.outcomes.values()), len(self.outcomes))


def load_baseline(path: Path) -> Baseline:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenSetError(f"无法读取基线 {path}：{exc}") from None
    except json.JSONDecodeError as exc:
        raise GoldenSetError(f"基线 {path} 不是有效的 JSON：{exc.msg}") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict) or not all(isinstance(v, bool) for v in results.values()):
        raise GoldenSetError(f"基线 {path} 缺少 'results'（问题编号到 true/false 的对应）")
    return Baseline(str(data.get("model", "")), str(data.get("retriever", "")), dict(results))


@dataclass(frozen=True)
class Comparison:
    """How a run differs from a baseline, question by question."""

    regressed: list[str]
    fixed: list[str]
    missing: list[str]
    added: list[str]
    baseline: Tally
    current: Tally

    @property
    def rate_dropped(self) -> bool:
        return (self.current.rate or 0.0) < (self.baseline.rate or 0.0) - 1e-12

    @property
    def failed(self) -> bool:
        return bool(self.regressed) or self.rate_dropped

    def to_json(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "fixed": self.fixed,
            "missing": self.missing,
            "added": self.added,
            "baseline": self.baseline.to_json(),
            "current": self.current.to_json(),
            "failed": self.failed,
        }


def compare(baseline: Mapping[str, bool], current: Mapping[str, bool]) -> Comparison:
    """Questions that went pass → fail (regressed) and fail → pass (fixed), and the two pass rates."""
    common = sorted(set(baseline) & set(current))
    return Comparison(
        regressed=[i for i in common if baseline[i] and not current[i]],
        fixed=[i for i in common if not baseline[i] and current[i]],
        missing=sorted(set(baseline) - set(current)),
        added=sorted(set(current) - set(baseline)),
        baseline=Tally(sum(baseline.values()), len(baseline)),
        current=Tally(sum(current.values()), len(current)),
    )


# ---------------------------------------------------------------- text output


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def fmt_num(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def tally_cell(tally: Tally | None) -> str:
    return "—" if tally is None else f"{tally.passed:>3}/{tally.total:<3} {fmt_pct(tally.rate):>6}"


def format_table(runs: Sequence[Run]) -> str:
    """The metrics of one or more runs as a plain-text table, one column per retriever."""
    label_width, col = 26, 18
    lines = [f"{'':<{label_width}}" + "".join(f"{r.retriever:>{col}}" for r in runs)]

    def row(label: str, cells: Iterable[str]) -> None:
        lines.append(f"{label:<{label_width}}" + "".join(f"{c:>{col}}" for c in cells))

    def tally_rows(title: str, get: Callable[[Metrics], dict[str, Tally]]) -> None:
        lines.append(title)
        names = sorted({name for r in runs for name in get(r.metrics)})
        for name in names:
            total = max(get(r.metrics)[name].total for r in runs if name in get(r.metrics))
            row(f"  {name} ({total})", (tally_cell(get(r.metrics).get(name)) for r in runs))

    row("全部 overall", (tally_cell(r.metrics.overall) for r in runs))
    tally_rows("按类别 by kind", lambda m: m.by_kind)
    tally_rows("按写法 by lang", lambda m: m.by_lang)
    lines.append("拒答 refusal（以拒答为正类）")
    row("  精确率 precision", (fmt_num(r.metrics.refusal.precision) for r in runs))
    row("  召回率 recall", (fmt_num(r.metrics.refusal.recall) for r in runs))
    answerable = sum(1 for q in runs[0].results if q.golden.answerable)
    lines.append(f"检索 retrieval（前 {EVAL_TOP_K} 段，{answerable} 个可回答的问题）")
    for k in RECALL_AT:
        row(f"  recall@{k}", (fmt_num(r.metrics.recall[k]) for r in runs))
    row("  MRR", (fmt_num(r.metrics.mrr) for r in runs))
    row("引用位置正确 citation spans valid", (tally_cell(r.metrics.citation_spans) for r in runs))
    if any(r.metrics.named_document.total for r in runs):
        row("只引用所问文件 named document only", (tally_cell(r.metrics.named_document) for r in runs))
    row("答案长度中位数 median answer chars", (fmt_num(r.metrics.median_answer_chars, ".0f") for r in runs))
    lines.append("用时（毫秒）")
    row("  p50", (fmt_num(r.metrics.latency_p50, ".0f") for r in runs))
    row("  p95", (fmt_num(r.metrics.latency_p95, ".0f") for r in runs))
    return "\n".join(lines)


def _clip(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_failures(run: Run) -> str:
    failures = [r for r in run.results if not r.grade.passed]
    lines = [f"{run.retriever} 未通过：{len(failures)} 题"]
    for r in failures:
        lines.append(f"  {r.golden.id}  [{r.grade.reason}]")
        lines.append(f"      问：{_clip(r.golden.question)}")
        lines.append(f"      答：{_clip(r.answer.answer)}")
    return "\n".join(lines)


def format_comparison(comparison: Comparison, run: Run, baseline_path: Path) -> str:
    by_id = {r.golden.id: r for r in run.results}
    lines = [
        f"与 {baseline_path} 比较：基线 {tally_cell(comparison.baseline).strip()}，"
        f"现在 {tally_cell(comparison.current).strip()}（{run.retriever}）"
    ]
    for title, ids in (("退步（通过 → 未通过）", comparison.regressed), ("修复（未通过 → 通过）", comparison.fixed)):
        lines.append(f"{title}: {len(ids)}")
        for i in ids:
            r = by_id[i]
            lines.append(f"  {i}  问：{_clip(r.golden.question, 40)}  答：{_clip(r.answer.answer, 40)}")
    if comparison.missing:
        lines.append(f"基线中有、本问题集中没有：{'、'.join(comparison.missing)}")
    if comparison.added:
        lines.append(f"基线之后新增：{len(comparison.added)} 题")
    return "\n".join(lines)


def verdict(comparison: Comparison) -> str:
    """One line saying whether the run regressed against the baseline, and how."""
    problems = []
    if comparison.regressed:
        problems.append(f"{len(comparison.regressed)} 题退步：{'、'.join(comparison.regressed)}")
    if comparison.rate_dropped:
        problems.append(
            f"通过率 {fmt_pct(comparison.current.rate)} 低于基线的 {fmt_pct(comparison.baseline.rate)}"
        )
    return ("退步 REGRESSION：" + "；".join(problems)) if problems else "与基线相比没有退步"


# ---------------------------------------------------------------- HTML report


# ---------------------------------------------------------------- the command


def retriever_modes(requested: Sequence[str] | None, default: str) -> list[str]:
    """The retrievers to run, in the order given, each once; the settings' retriever when none."""
    modes = list(dict.fromkeys(requested or [default]))
    unknown = [m for m in modes if m not in RETRIEVERS]
    if unknown:
        raise QAError(f"未知的检索方式 {'、'.join(unknown)}，可选：{'、'.join(RETRIEVERS)}")
    return modes


def run_eval_command(args: argparse.Namespace, settings: Settings, service: QAService | None = None) -> int:
    """`qa eval`: run the golden set per retriever, print and write reports, compare and save baselines.

    Returns 1 when `--compare` finds a question that passed in the baseline and fails now,
    or a lower overall pass rate; 0 otherwise. The first retriever is the one compared and saved
    (or, when comparing, the baseline's own retriever if it was run).
    """
    questions = load_golden(args.golden)
    baseline = load_baseline(args.compare) if args.compare else None
    modes = retriever_modes(args.retriever, settings.retriever)
    if service is None:
        from qa.service import QAService

        service = QAService.load(settings)
    model = service.settings.model
    runs = []
    for mode in modes:
        progress = None
        if sys.stderr.isatty():
            from qa.retrieve.index import tqdm_progress

            progress = tqdm_progress(f"评测 {mode}")
        runs.append(evaluate(service, questions, mode, progress, getattr(args, "doc", None)))

    comparison: tuple[Comparison, Run] | None = None
    notes: list[str] = []
    if baseline is not None:
        run = next((r for r in runs if r.retriever == baseline.retriever), runs[0])
        if run.retriever != baseline.retriever:
            notes.append(f"注意：基线用的检索方式是 {baseline.retriever!r}，这里比较的是 {run.retriever!r}")
        if baseline.model and baseline.model != model:
            notes.append(f"注意：基线用的模型是 {baseline.model!r}，这次用的是 {model!r}")
        comparison = (compare(baseline.outcomes, run.outcomes), run)

    if args.json:
        report = {
            "golden": str(args.golden),
            "model": model,
            "questions": len(questions),
            "top_k": EVAL_TOP_K,
            "runs": [r.to_json() for r in runs],
            "comparison": comparison[0].to_json() if comparison else None,
        }
        print(json.dumps(report, ensure_ascii=False, indent=1))
        for note in notes:
            print(note, file=sys.stderr)
        if comparison:
            print(verdict(comparison[0]), file=sys.stderr)
    else:
        print(f"标准问题集 {args.golden}：{len(questions)} 题 · 模型 {model} · 前 {EVAL_TOP_K} 段\n")
        print(format_table(runs))
        print()
        print(format_failures(runs[0]))
        for note in notes:
            print(note)
        if comparison:
            print()
            print(format_comparison(comparison[0], comparison[1], args.compare))
            print(verdict(comparison[0]))

    if args.report:
        from qa.evaluate.report import render_html

        write_text_atomic(args.report, render_html(runs, args.golden, model, comparison))
        print(f"已写入 {args.report}", file=sys.stderr)
    if args.save_baseline:
        write_text_atomic(args.save_baseline, dump_baseline(runs[0], model))
        print(f"已写入 {args.save_baseline}（{runs[0].retriever}）", file=sys.stderr)
    return 1 if comparison and comparison[0].failed else 0
