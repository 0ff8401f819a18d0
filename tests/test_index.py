"""The index folder: manifest checks, refusal of foreign indexes, atomic writes, damage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexWriteError
from qa.fileio import versions_folder
from qa.ingest.corpus import load_corpus
from qa.retrieve import index as index_module
from qa.retrieve.embedder import HashEmbedder
from qa.retrieve.index import FORMAT_VERSION, build_index, check_compatible, load_index, read_manifest, save_index
from qa.service import ensure_index
from qa.settings import Settings

from .conftest import CORPUS


def _built(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    save_index(build_index(load_corpus(CORPUS).documents, HashEmbedder(), 300, 60), folder)
    return folder


def test_index_folder_is_readable_and_round_trips(tmp_path: Path) -> None:
    folder = _built(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "chunks.jsonl",
        "corrector.json",
        "dense.faiss",
        "documents.jsonl",
        "embedded.jsonl",
        "idf.json",
        "lexical.npz",
        "manifest.json",
        "openings.json",
        "sentence_keys.json",
        "sentence_tables.jsonl",
        "sentences.npy",
    ]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == "hash-bigrams-64" and manifest["dim"] == 64 and manifest["format_version"] == FORMAT_VERSION
    first = (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert "工业和信息化部" in first  # Chinese stays readable, not \\u-escaped
    index = load_index(folder)
    assert index.dense.ntotal == len(index.chunks) == manifest["chunks"]
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_index_built_with_another_model_is_refused_with_how_to_rebuild(tmp_path: Path) -> None:
    manifest = read_manifest(_built(tmp_path))
    with pytest.raises(IndexMismatchError, match=r"索引是用模型 'hash-bigrams-64' 建立的.*请运行 `qa build`"):
        check_compatible(manifest, HashEmbedder(dim=32))


def test_index_of_another_format_is_refused_even_with_other_fields(tmp_path: Path) -> None:
    folder = _built(tmp_path)
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    data["format_version"] = FORMAT_VERSION + 1
    data["a_field_of_the_future"] = True
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="索引格式为.*qa build"):
        read_manifest(folder)
    with pytest.raises(IndexMismatchError):  # refused, not rebuilt over
        ensure_index(Settings(model="hash", corpus_dir=CORPUS, index_dir=folder), HashEmbedder())


def test_unwritable_index_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    index = build_index(load_corpus(CORPUS).documents, HashEmbedder(), 300, 60)
    with pytest.raises(IndexWriteError, match="无法写入索引"):
        save_index(index, tmp_path / "a-file" / "index")


def test_missing_and_damaged_indexes_say_how_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="qa build"):
        load_index(tmp_path / "nothing")
    folder = _built(tmp_path)
    (folder / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorruptError, match="已损坏.*qa build"):
        load_index(folder)
    (folder / "manifest.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="无法读取"):
        read_manifest(folder)


def test_a_failed_write_leaves_the_previous_index_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _built(tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    index = build_index(load_corpus(CORPUS).documents, HashEmbedder(), 200, 20)

    write = index_module._write_durably

    def disk_full_at_the_vectors(path: Path, data: bytes) -> None:
        if path.name == "dense.faiss":
            raise OSError("disk full")
        write(path, data)

    monkeypatch.setattr(index_module, "_write_durably", disk_full_at_the_vectors)
    with pytest.raises(IndexWriteError, match="无法写入索引.*disk full"):
        save_index(index, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.versions", "index"]
    assert list(versions_folder(folder).iterdir()) == [folder.resolve()]  # the failed version is gone


def test_ensure_index_builds_when_missing_or_stale_and_reuses_when_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path / "index")
    _, built = ensure_index(settings, HashEmbedder())
    assert built
    _, built = ensure_index(settings, HashEmbedder())
    assert not built
    _, built = ensure_index(settings.with_(chunk_max_chars=200), HashEmbedder())
    assert built  # chunking changed: the index is stale and rebuilt
    version = index_module.SENTENCES_VERSION
    monkeypatch.setattr(index_module, "SENTENCES_VERSION", version + 1)
    index, built = ensure_index(settings.with_(chunk_max_chars=200), HashEmbedder())
    assert built  # the program extracts sentences and facts differently now: tables computed again
    assert all(k.startswith(f"{version + 1}:") for k in index.derived.sentence_keys.values())
    _, built = ensure_index(settings.with_(chunk_max_chars=200), HashEmbedder())
    assert not built
    monkeypatch.setattr(index_module, "SENTENCES_VERSION", version)
    with pytest.raises(IndexMismatchError):
        ensure_index(settings, HashEmbedder(dim=32))  # another model: refused, not replaced
    corrupt = settings.index_dir / "manifest.json"
    corrupt.write_text("{", encoding="utf-8")
    _, built = ensure_index(settings, HashEmbedder())
    assert built  # an unreadable index is rebuilt on first use
    (settings.index_dir / "dense.faiss").write_bytes(b"garbage")
    index, built = ensure_index(settings, HashEmbedder())
    assert built and index.dense.ntotal == len(index.chunks)  # so is a damaged one


class CountingEmbedder(HashEmbedder):
    """The hash embedder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return super().embed_documents(texts)


def test_a_text_repeated_in_a_build_is_embedded_once_and_every_row_gets_its_vector() -> None:
    texts = ["第一条 总则", "申请人应当提交材料。", "第一条 总则", "", "申请人应当提交材料。", "", "附则"]
    embedder = CountingEmbedder()
    ticks: list[tuple[int, int]] = []
    vectors = index_module.embed_sorted(embedder, texts, batch_size=2, progress=lambda done, total: ticks.append((done, total)))
    assert sorted(embedder.asked) == sorted(set(texts))
    assert np.array_equal(vectors, HashEmbedder().embed_documents(texts))
    assert ticks[-1] == (4, 4)


def test_embedding_nothing_gives_no_rows() -> None:
    assert index_module.embed_sorted(CountingEmbedder(), [], batch_size=4).shape == (0, 64)


class WorkerEmbedder(HashEmbedder):
    """The hash embedder, as one that starts worker processes for passages and is told to let them go."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.released = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail:
            raise RuntimeError("a worker died")
        return super().embed_documents(texts)

    def release_workers(self) -> None:
        self.released += 1


def test_a_build_lets_go_of_the_embedder_s_workers_when_done_or_failed() -> None:
    documents = load_corpus(CORPUS).documents
    done = WorkerEmbedder()
    build_index(documents, done, 300, 60)
    assert done.released == 1  # a server that built its index keeps no idle build processes
    failed = WorkerEmbedder(fail=True)
    with pytest.raises(RuntimeError):
        build_index(documents, failed, 300, 60)
    assert failed.released == 1
