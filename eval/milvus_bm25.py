"""Milvus' own BM25 full-text search (milvus-lite, jieba analyzer) against the project's lexical index.

    .venv/bin/python eval/milvus_bm25.py [--synthetic 10000]

On the bundled corpus: for each golden question, whether the top 5 passages hold every
expected fact (hit@5) by the project's BM25 over character bigrams (bm25s) and by Milvus'
BM25 function over jieba words, how far the two top-5 lists agree, and the latency of each.
Then latency alone on a synthetic library. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from scale_bench import percentiles, synthetic_passages  # noqa: E402

from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.index import index_text  # noqa: E402
from qa.retrieve.retrieval import LexicalIndex, top_indices  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.text.chunking import chunk_document  # noqa: E402

K = 5


def milvus_bm25(folder: Path, texts: list[str]) -> tuple[object, float]:
    """A milvus-lite collection whose text field feeds a BM25 function; returns the client and the load time."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    started = time.perf_counter()
    client = MilvusClient(str(folder / "bm25.db"))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=8192, enable_analyzer=True, analyzer_params={"tokenizer": "jieba"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]))
    index_params = client.prepare_index_params()
    index_params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("passages", schema=schema, index_params=index_params, consistency_level="Strong")
    for lo in range(0, len(texts), 2000):
        client.insert("passages", [{"id": lo + i, "text": t} for i, t in enumerate(texts[lo : lo + 2000])])
    client.flush("passages")
    return client, time.perf_counter() - started


def milvus_top(client: object, question: str) -> list[int]:
    hits = client.search("passages", data=[question], anns_field="sparse", limit=K, output_fields=["id"])[0]  # type: ignore[attr-defined]
    return [int(h["id"]) for h in hits]


def bm25s_top(lexical: LexicalIndex, question: str) -> list[int]:
    return top_indices(lexical.scores(question), K, positive_only=True)


def timed_tops(search: object, questions: list[str]) -> tuple[list[list[int]], list[float]]:
    tops, times = [], []
    for q in questions:
        started = time.perf_counter()
        tops.append(search(q))  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return tops, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=10000, help="passages in the synthetic library (0: skip)")
    args = parser.parse_args()

    settings = Settings()
    documents = load_corpus(settings.corpus_dir).documents
    texts = [index_text(d, c) for d in documents for c in chunk_document(d, settings.chunk_max_chars, settings.chunk_overlap_chars)]
    golden = [json.loads(line) for line in (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [g["question"] for g in golden]
    lexical = LexicalIndex(texts)
    with tempfile.TemporaryDirectory() as tmp:
        client, load_seconds = milvus_bm25(Path(tmp), texts)
        bm25s_tops, bm25s_times = timed_tops(lambda q: bm25s_top(lexical, q), questions)
        milvus_tops, milvus_times = timed_tops(lambda q: milvus_top(client, q), questions)
        client.close()  # type: ignore[attr-defined]

    def hits(tops: list[list[int]]) -> int:
        return sum(
            1
            for g, top in zip(golden, tops, strict=True)
            if g.get("answerable") and g.get("all") and any(all(f in texts[i] for f in g["all"]) for i in top)
        )

    answerable = sum(1 for g in golden if g.get("answerable") and g.get("all"))
    overlap = np.mean([len(set(a) & set(b)) / K for a, b in zip(bm25s_tops, milvus_tops, strict=True)])
    print(f"Bundled corpus: {len(texts)} passages, {len(questions)} golden questions ({answerable} with facts to find)")
    print(f"  bm25s, character bigrams : hit@{K} {hits(bm25s_tops)}/{answerable}, p50/p95 {'/'.join(f'{x:.2f}' for x in percentiles(bm25s_times))} ms")
    print(
        f"  Milvus BM25, jieba words : hit@{K} {hits(milvus_tops)}/{answerable}, p50/p95 {'/'.join(f'{x:.2f}' for x in percentiles(milvus_times))} ms"
        f" (collection built in {load_seconds:.1f} s)"
    )
    print(f"  top-{K} agreement between the two: {overlap:.0%}")

    if args.synthetic:
        passages = synthetic_passages(args.synthetic)
        started = time.perf_counter()
        big_lexical = LexicalIndex(passages)
        bm25s_build = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            client, load_seconds = milvus_bm25(Path(tmp), passages)
            _, bm25s_times = timed_tops(lambda q: bm25s_top(big_lexical, q), questions)
            _, milvus_times = timed_tops(lambda q: milvus_top(client, q), questions)
            client.close()  # type: ignore[attr-defined]
        print(f"Synthetic library: {args.synthetic} passages")
        print(f"  bm25s       : built in {bm25s_build:.1f} s, p50/p95 {'/'.join(f'{x:.2f}' for x in percentiles(bm25s_times))} ms")
        print(f"  Milvus BM25 : built in {load_seconds:.1f} s, p50/p95 {'/'.join(f'{x:.2f}' for x in percentiles(milvus_times))} ms")


if __name__ == "__main__":
    main()
