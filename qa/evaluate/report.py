"""The evaluation report for people: one self-contained HTML page (no external assets).

Failures are listed with the question, what was expected, what was answered and the cited
passages; a bar chart shows the pass rate by kind for each retriever. Everything is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from qa.evaluate.evaluation import (
    EVAL_TOP_K,
    RECALL_AT,
    Comparison,
    Metrics,
    QuestionResult,
    Run,
    Tally,
    fmt_num,
    fmt_pct,
    tally_cell,
    verdict,
)

_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#1d2733;line-height:1.5}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d5dbe1;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#eef2f6}
.fail{border:1px solid #e3c2c2;border-left:4px solid #b3261e;padding:.5rem .8rem;margin:.8rem 0;background:#fdf8f8}
.meta{color:#5b6875;font-size:.9rem}.quote{background:#f3f5f7;padding:.2rem .4rem;margin:.2rem 0;white-space:pre-wrap}
.bad{color:#b3261e;font-weight:600}.good{color:#1e6b34;font-weight:600}code{font-size:.9em}
"""
_COLOURS = ("#2f6fb0", "#d08a1e", "#3f9a5b", "#8a4fb0")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _svg_pass_by_kind(runs: Sequence[Run]) -> str:
    """A horizontal bar chart of pass rate by kind, one bar per retriever."""
    kinds = sorted({k for r in runs for k in r.metrics.by_kind})
    label_w, bar_w, bar_h, gap = 130, 420, 14, 10
    group_h = bar_h * len(runs) + gap
    legend_h = 22
    height = legend_h + group_h * len(kinds) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{height}" role="img" '
        f'aria-label="pass rate by kind" font-size="12" font-family="sans-serif">'
    ]
    for n, run in enumerate(runs):
        x = label_w + n * 110
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{_COLOURS[n % len(_COLOURS)]}"/>'
            f'<text x="{x + 16}" y="14">{_e(run.retriever)}</text>'
        )
    for g, kind in enumerate(kinds):
        y0 = legend_h + g * group_h
        parts.append(f'<text x="0" y="{y0 + bar_h * len(runs) / 2 + 4:.0f}">{_e(kind)}</text>')
        for n, run in enumerate(runs):
            tally = run.metrics.by_kind.get(kind)
            rate = (tally.rate or 0.0) if tally else 0.0
            y = y0 + n * bar_h
            colour = _COLOURS[n % len(_COLOURS)]
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{bar_h - 2}" fill="#eef2f6"/>'
                f'<rect x="{label_w}" y="{y}" width="{bar_w * rate:.1f}" height="{bar_h - 2}" fill="{colour}">'
                f"<title>{_e(run.retriever)} {_e(kind)}: {fmt_pct(rate)}</title></rect>"
                f'<text x="{label_w + bar_w + 6}" y="{y + bar_h - 3}">{fmt_pct(rate)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _html_tally_table(title: str, runs: Sequence[Run], get: Callable[[Metrics], dict[str, Tally]]) -> str:
    names = sorted({name for r in runs for name in get(r.metrics)})
    head = "".join(f"<th>{_e(r.retriever)}</th>" for r in runs)
    body = "".join(
        f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{_e(tally_cell(get(r.metrics).get(name)))}</td>" for r in runs) + "</tr>"
        for name in names
    )
    return f"<table><thead><tr><th>{_e(title)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_metrics_table(runs: Sequence[Run]) -> str:
    rows: list[tuple[str, list[str]]] = [
        ("overall", [tally_cell(r.metrics.overall) for r in runs]),
        ("refusal precision", [fmt_num(r.metrics.refusal.precision) for r in runs]),
        ("refusal recall", [fmt_num(r.metrics.refusal.recall) for r in runs]),
        *((f"recall@{k}", [fmt_num(r.metrics.recall[k]) for r in runs]) for k in RECALL_AT),
        ("MRR", [fmt_num(r.metrics.mrr) for r in runs]),
        ("citation spans valid", [tally_cell(r.metrics.citation_spans) for r in runs]),
        ("latency p50 (ms)", [fmt_num(r.metrics.latency_p50, ".0f") for r in runs]),
        ("latency p95 (ms)", [fmt_num(r.metrics.latency_p95, ".0f") for r in runs]),
    ]
    head = "".join(f"<th>{_e(r.retriever)}</th>" for r in runs)
    body = "".join(f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>" for label, cells in rows)
    return f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_failure(r: QuestionResult) -> str:
    g, a = r.golden, r.answer
    expected = f"all: {_e(' · '.join(g.all_of) or '—')}<br>any: {_e(' · '.join(g.any_of) or '—')}"
    if not g.answerable:
        expected = "a refusal (the document does not hold the answer)"
    citations = (
        "".join(
            f'<div class="quote">{_e(c.text)}<div class="meta">{_e(c.section)} · 字符 {c.start}–{c.end}</div></div>'
            for c in a.citations
        )
        or '<div class="meta">no citations</div>'
    )
    passages = "".join(
        f'<div class="quote">{_e(p.chunk.text)}<div class="meta">#{n} {_e(p.chunk.section)} · score {p.score:.4f}</div></div>'
        for n, p in enumerate(a.passages, start=1)
    )
    rank = "—" if r.relevant_rank is None else str(r.relevant_rank)
    return (
        f'<div class="fail"><div><strong>{_e(g.question)}</strong></div>'
        f'<div class="meta"><code>{_e(g.id)}</code> · {_e(g.kind)} · {_e(g.lang)} · '
        f'<span class="bad">{_e(r.grade.reason)}</span></div>'
        f"<div>expected: {expected}</div>"
        f"<div>got (found={_e(str(a.found).lower())}): {_e(a.answer)}</div>"
        f"<div>cited:</div>{citations}"
        f"<details><summary>top {len(a.passages)} passages (first holding the facts: {_e(rank)})</summary>"
        f"{passages}</details></div>"
    )


def render_html(runs: Sequence[Run], golden_path: Path, model: str, comparison: tuple[Comparison, Run] | None = None) -> str:
    """A self-contained HTML page: metrics side by side, a pass-rate-by-kind chart and every failure."""
    parts = [
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">',
        f"<title>qa eval — {_e(golden_path.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Evaluation of {_e(golden_path)}</h1>",
        f'<p class="meta">{len(runs[0].results)} questions · model {_e(model)} · retrievers '
        f"{_e(', '.join(r.retriever for r in runs))} · top {EVAL_TOP_K} passages</p>",
        "<h2>Summary</h2>",
        _html_metrics_table(runs),
        "<h2>Pass rate by kind</h2>",
        _svg_pass_by_kind(runs),
        _html_tally_table("kind", runs, lambda m: m.by_kind),
        "<h2>Pass rate by language form</h2>",
        _html_tally_table("lang", runs, lambda m: m.by_lang),
    ]
    if comparison is not None:
        comp, run = comparison
        cls = "bad" if comp.failed else "good"
        parts.append(f'<h2>Against the baseline ({_e(run.retriever)})</h2><p class="{cls}">{_e(verdict(comp))}</p>')
        for title, ids in (("regressed (pass → fail)", comp.regressed), ("fixed (fail → pass)", comp.fixed)):
            items = "".join(f"<li><code>{_e(i)}</code></li>" for i in ids) or "<li>none</li>"
            parts.append(f"<h3>{_e(title)}: {len(ids)}</h3><ul>{items}</ul>")
    for run in runs:
        failures = [r for r in run.results if not r.grade.passed]
        parts.append(f"<h2>Failures with {_e(run.retriever)}: {len(failures)}</h2>")
        parts.extend(_html_failure(r) for r in failures)
    parts.append("</body></html>\n")
    return "\n".join(parts)
