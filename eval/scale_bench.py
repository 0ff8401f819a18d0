"""Scale figures: vector search, top-k selection and question batching on large synthetic libraries.

    .venv/bin/python eval/scale_bench.py [--sizes 1000,10000,100000] [--queries 200] [--no-milvus] [--no-batcher]

Libraries are synthetic passages cut from the bundled documents (each with its own numbers),
embedded with the `hash` test embedder at 384 dimensions (the real model's size) so that
100,000 passages take seconds. It measures, at each size: FAISS flat search and milvus-lite
search (p50/p95 of one query, k=20, whole library and restricted to 200 rows as a document
filter does), and choosing the top 20 of the scores by a full stable sort against a partial
selection. Then the question batcher with the real model: questions/s and latency at 1, 8 and
32 threads, each thread asking in turn, encoded one by one against micro-batched. Figures are
printed, never asserted: timings on a shared two-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.batching import QueryBatcher  # noqa: E402
from qa.retrieve.embedder import HashEmbedder  # noqa: E402
from qa.retrieve.retrieval import top_indices  # noqa: E402
from qa.retrieve.vectors import FaissStore, MilvusStore  # noqa: E402
from qa.settings import Settings  # noqa: E402

DIM = 384
K = 20
RESTRICTED_ROWS = 200


def golden_questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def synthetic_passages(count: int, seed: int = 0) -> list[str]:
    """Passages of 80 to 300 characters cut from the bundled documents, each given numbers of its own."""
    whole = "\n".join(d.text for d in load_corpus(Settings().corpus_dir).documents)
    rng = random.Random(seed)
    passages = []
    for i in range(count):
        length = rng.randint(80, 300)
        start = rng.randrange(0, max(1, len(whole) - length))
        passages.append(f"第{i}条 {whole[start : start + length]} 到{rng.randint(2024, 2040)}年达到{rng.randint(1, 999)}项")
    return passages


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def search_figures(name: str, search: Callable[[np.ndarray, np.ndarray | None], object], queries: np.ndarray, size: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    restricted = [np.sort(rng.choice(size, size=min(RESTRICTED_ROWS, size), replace=False)) for _ in queries]
    for q in queries[:5]:
        search(q, None)  # warm-up
    whole = [timed(lambda q=q: search(q, None), 1)[0] for q in queries]
    within = [timed(lambda q=q, r=r: search(q, r), 1)[0] for q, r in zip(queries, restricted, strict=True)]
    (p50, p95), (r50, r95) = percentiles(whole), percentiles(within)
    return {f"{name} p50": p50, f"{name} p95": p95, f"{name} filtered p50": r50, f"{name} filtered p95": r95}


def library_figures(size: int, passages: list[str], queries: np.ndarray, milvus: bool, folder: Path) -> dict[str, float]:
    import faiss  # type: ignore[import-untyped]

    started = time.perf_counter()
    vectors = HashEmbedder(DIM).embed_documents(passages)
    figures: dict[str, float] = {"passages": size, "hash embed s": time.perf_counter() - started}
    faiss.omp_set_num_threads(1)  # one request uses one core; the other serves another request
    store = FaissStore.from_matrix(vectors)
    figures |= search_figures("faiss", lambda q, allowed: store.search(q, K, allowed_ids=allowed), queries, size)

    scores = vectors @ queries[0]
    full = timed(lambda: np.argsort(-scores, kind="stable")[:K], len(queries))
    partial = timed(lambda: top_indices(scores, K), len(queries))
    figures["sort p50"], _ = percentiles(full)
    figures["partial p50"], _ = percentiles(partial)

    if milvus:
        started = time.perf_counter()
        milvus_store = MilvusStore(str(folder / f"milvus-{size}.db"), f"policy_qa_bench_{size}", DIM, timeout=600)
        milvus_store.create()
        milvus_store.add(np.arange(size), vectors)
        figures["milvus upload s"] = time.perf_counter() - started
        figures |= search_figures("milvus", lambda q, allowed: milvus_store.search(q, K, allowed_ids=allowed), queries, size)
        # By scores: the hash embedder gives many equal scores, and equal scores may come in either order
        # (or, tied at the 20th place, either may be left out).
        same_ids = same_scores = 0
        for q in queries[:20]:
            (m_scores, m_ids), (f_scores, f_ids) = milvus_store.search(q, K), store.search(q, K)
            same_ids += m_ids.tolist() == f_ids.tolist()
            same_scores += len(m_scores) == len(f_scores) and bool(np.allclose(m_scores, f_scores, atol=1e-5))
        figures["milvus same ids /20"], figures["milvus same scores /20"] = same_ids, same_scores
        milvus_store.close()
    return figures


def batcher_figures(questions: list[str], threads: int, per_thread: int, batched: bool, embed: Callable[[Sequence[str]], np.ndarray]) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    batcher = QueryBatcher(embed, max_batch=16, max_wait_ms=2.0) if batched else None
    ask = batcher.embed if batcher else (lambda text: embed([text])[0])
    start = threading.Barrier(threads + 1)

    def client(offset: int) -> None:
        start.wait()
        for i in range(per_thread):
            question = questions[(offset * per_thread + i) % len(questions)]
            began = time.perf_counter()
            ask(question)
            with lock:
                latencies.append(time.perf_counter() - began)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    if batcher:
        batcher.close()
    p50, p95 = percentiles(latencies)
    return {"questions/s": len(latencies) / elapsed, "p50 ms": p50, "p95 ms": p95}


def print_table(rows: list[dict[str, float]], columns: list[str]) -> None:
    print(" | ".join(f"{c:>18}" for c in columns))
    for row in rows:
        print(" | ".join(f"{row[c]:>18.2f}" if isinstance(row.get(c), float) else f"{row.get(c, '-')!s:>18}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200, help="searches timed at each size")
    parser.add_argument("--no-milvus", action="store_true")
    parser.add_argument("--no-batcher", action="store_true")
    parser.add_argument("--per-thread", type=int, default=8, help="questions each batcher client asks")
    args = parser.parse_args()

    questions = golden_questions()
    query_vectors = HashEmbedder(DIM).embed_queries([questions[i % len(questions)] + f" {i}" for i in range(args.queries)])
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(library_figures(size, synthetic_passages(size), query_vectors, not args.no_milvus, folder))
            print(f"  {size} passages done", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nVector search, one query, k={K}, 384 dimensions, one thread (ms); filtered = restricted to {RESTRICTED_ROWS} rows")
    columns = ["passages", "faiss p50", "faiss p95", "faiss filtered p50", "faiss filtered p95"]
    if not args.no_milvus:
        columns += ["milvus p50", "milvus p95", "milvus filtered p50", "milvus filtered p95", "milvus same ids /20", "milvus same scores /20", "milvus upload s"]
    print_table(rows, columns)
    print(f"\nTop-{K} selection of all scores (ms, p50)")
    print_table(rows, ["passages", "sort p50", "partial p50"])

    if args.no_batcher:
        return
    from qa.retrieve.embedder import load_embedder

    settings = Settings.from_env()
    embedder = load_embedder(settings)  # torch threads as the server uses them (QA_TORCH_THREADS)
    embedder.embed_queries(questions[:4])  # warm-up
    print(f"\nQuestion encoding with the real model ({embedder.name.rsplit('/', 1)[-1]}), {args.per_thread} questions per thread")
    batch_rows = []
    for threads in (1, 8, 32):
        for batched in (False, True):
            row = {"threads": threads, "mode": "batched" if batched else "one by one"}
            row |= batcher_figures(questions, threads, args.per_thread, batched, embedder.embed_queries)
            batch_rows.append(row)
    print_table(batch_rows, ["threads", "mode", "questions/s", "p50 ms", "p95 ms"])


if __name__ == "__main__":
    main()
