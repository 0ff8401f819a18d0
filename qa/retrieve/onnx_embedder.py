"""The embedding model run by ONNX Runtime (QA_EMBED_BACKEND=onnx): exported once from PyTorch, same vectors, faster.

Measured on two cores (eval/embed_backends.py): one question in about 11 ms against 25 ms
with PyTorch, passages 1.2-1.5 times as fast, cosine to the PyTorch vectors 1.000000.
sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose releases require
transformers < 4.58 (this project runs 5.x), so the transformer is exported here with
`torch.onnx`, offline, into the cache; tokenising, mean pooling and normalising follow the
model folder's own configuration (Transformer, mean Pooling, Normalize).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelLoadError
from qa.fileio import move_into_place, remove_stale_temps, temp_sibling
from qa.retrieve.embedder import _folder_fingerprint, progress_bars_only_on_a_terminal

EXPORT_VERSION = 1
ONNX_FILE = "model.onnx"
EXPORT_MANIFEST = "export.json"
OUTPUT = "last_hidden_state"


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


def export_onnx(model_dir: Path, dest: Path, fingerprint: str) -> None:
    """Export the model's transformer to `dest/model.onnx`, built beside it and renamed into place."""
    import torch
    from sentence_transformers import SentenceTransformer

    work = temp_sibling(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest)
        work.mkdir()
        with warnings.catch_warnings(), progress_bars_only_on_a_terminal():
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated but, unlike dynamo's, needs no onnxscript
            model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
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
        manifest = {"export_version": EXPORT_VERSION, "source": str(model_dir), "source_fingerprint": fingerprint}
        (work / EXPORT_MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        move_into_place(work, dest)
    except ModelLoadError:
        raise
    except Exception as exc:  # any failure of the export is one clear error
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"无法把向量模型 {model_dir} 导出为 ONNX：{reason}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


class OnnxEmbedder:
    """Questions and passages embedded by ONNX Runtime; the fingerprint is the model folder's, as with PyTorch.

    The vectors match PyTorch's (cosine 1.000000), so an index built with either backend serves the other.
    """

    def __init__(self, model_dir: Path, cache_dir: Path, batch_size: int = 16, query_threads: int = 1) -> None:
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
        self.folder = cache_dir / f"onnx-{self.fingerprint}"
        exported = _read_json(self.folder / EXPORT_MANIFEST) if (self.folder / ONNX_FILE).exists() else {}
        if exported.get("export_version") != EXPORT_VERSION or exported.get("source_fingerprint") != self.fingerprint:
            export_onnx(model_dir, self.folder, self.fingerprint)
        self._ort = ort
        self._query_threads = query_threads
        try:
            self._query_session = self._session(query_threads)
        except Exception as exc:  # a damaged export: say how to recover
            raise ModelLoadError(f"无法读取 ONNX 模型 {self.folder / ONNX_FILE}（{str(exc)[:200]}）；请删除该文件夹后重试") from None
        self._document_session: Any = None
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
        """Passages use every core (a build), through a second session made on first use."""
        cores = max(1, os.cpu_count() or 1)
        if cores == self._query_threads:
            return self._encode(texts, self._doc_prompt, self._query_session)
        if self._document_session is None:
            self._document_session = self._session(cores)
        return self._encode(texts, self._doc_prompt, self._document_session)
