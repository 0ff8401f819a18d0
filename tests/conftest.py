"""Shared fixtures: a fast service on a model-free embedder, and the real one (marked `model`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.service import QAService
from qa.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
RAW_SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_31a8f7348d6a0ef2.txt"


@pytest.fixture(scope="session")
def hash_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the bundled corpus with the deterministic hash embedder: no model, fast."""
    return Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("hash-index") / "index")


@pytest.fixture(scope="session")
def hash_service(hash_settings: Settings) -> QAService:
    return QAService.load(hash_settings, show_progress=False)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default settings and model (converted once into the user's cache), with a fresh index.

    Only the cache folder comes from the environment: QA_RETRIEVER, QA_TOP_K and the like
    must not change what the model tests check.
    """
    return Settings(
        corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("real-index") / "index", cache_dir=Settings.from_env().cache_dir
    )


@pytest.fixture(scope="session")
def real_service(real_settings: Settings) -> QAService:
    return QAService.load(real_settings, show_progress=False)


@pytest.fixture()
def corpus_dir() -> Path:
    return CORPUS
