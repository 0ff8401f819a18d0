"""A damaged index is detected, never answered from; a killed build always leaves a whole index."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from qa import fileio
from qa.cli import main
from qa.errors import IndexCorruptError
from qa.ingest.corpus import load_corpus
from qa.retrieve.embedder import HashEmbedder
from qa.retrieve.index import build_index, load_index, save_index
from qa.service import ensure_index
from qa.settings import PROJECT_ROOT, Settings

from .conftest import CORPUS

INDEX_FILES = ("manifest.json", "documents.jsonl", "chunks.jsonl", "dense.faiss", "embedded.jsonl")


def _save(folder: Path, dim: int = 64, chunk_max_chars: int = 300) -> None:
    save_index(build_index(load_corpus(CORPUS).documents, HashEmbedder(dim), chunk_max_chars, 60), folder)


def _overwrite(path: Path, start: int, length: int, seed: int = 11) -> None:
    """Random bytes over `length` bytes from `start` (clipped to the file), the size unchanged."""
    data = bytearray(path.read_bytes())
    end = min(len(data), start + length)
    data[start:end] = random.Random(seed).randbytes(end - start)
    path.write_bytes(bytes(data))


def _as_plain_folder(folder: Path) -> None:
    """Turn the versioned index into a plain folder, as written before versions existed."""
    real = folder.resolve()
    folder.unlink()
    real.rename(folder)


def _edit(path: Path, old: str, new: str) -> None:
    """A plausible change: still valid UTF-8 and JSON, only the content differs."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- checksums -------------------------------------------------------------------------------


def test_vectors_overwritten_after_their_header_are_detected(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    _save(folder, dim=384)
    path = folder / "dense.faiss"
    _overwrite(path, 128, path.stat().st_size)
    with pytest.raises(IndexCorruptError, match=r"dense\.faiss 已损坏（校验和不符）.*qa build"):
        load_index(folder)


@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_4kb_random_patch_in_the_middle_of_any_index_file_is_detected(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "index"
    _save(folder, dim=384)  # the real model's width: dense.faiss is larger than the patch
    path = folder / name
    _overwrite(path, max(0, path.stat().st_size // 2 - 2048), 4096)
    with pytest.raises(IndexCorruptError, match="qa build"):
        load_index(folder)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("documents.jsonl", '"date_published": "2023-08-22"', '"date_published": "2023-08-29"'),
        ("chunks.jsonl", '"section": "', '"section": "附件 › '),
    ],
)
def test_edits_that_keep_the_files_readable_are_detected(tmp_path: Path, name: str, old: str, new: str) -> None:
    folder = tmp_path / "index"
    _save(folder)
    _edit(folder / name, old, new)
    with pytest.raises(IndexCorruptError, match=f"{name} 已损坏"):
        load_index(folder)


def test_the_cli_answers_from_a_rebuilt_index_never_from_damaged_vectors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "index"
    ask = ["ask", "--json", "--model", "hash", "--index", str(folder), "--retriever", "dense", "未来产业有哪些？"]
    assert main(ask) == 0
    expected = json.loads(capsys.readouterr().out)
    vectors = (folder / "dense.faiss").read_bytes()
    _overwrite(folder / "dense.faiss", 128, len(vectors))
    assert main(ask) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in answer.items() if k != "latency_ms"} == {k: v for k, v in expected.items() if k != "latency_ms"}
    assert (folder / "dense.faiss").read_bytes() == vectors  # rebuilt, not read


def test_a_manifest_without_checksums_is_damage(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    _save(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["sha256"]["chunks.jsonl"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="缺少文件校验和"):
        load_index(folder)


# --- the swap --------------------------------------------------------------------------------


def _watch_every_step(monkeypatch: pytest.MonkeyPatch, check: Callable[[], None]) -> list[str]:
    """Run `check` before and after every rename, link and removal the index code makes."""
    steps: list[str] = []
    for module, name in ((fileio.os, "replace"), (fileio.os, "rename"), (fileio.os, "symlink"), (fileio.shutil, "rmtree")):
        original = getattr(module, name)

        def watched(*args: object, _original: Callable[..., object] = original, _name: str = name, **kwargs: object) -> object:
            check()
            result = _original(*args, **kwargs)
            steps.append(_name)
            check()
            return result

        monkeypatch.setattr(module, name, watched)
    return steps


def test_a_whole_index_is_in_place_at_every_step_of_a_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "index"
    _save(folder)
    chunk_counts = set()

    def whole_index_in_place() -> None:
        chunk_counts.add(len(load_index(folder).chunks))

    steps = _watch_every_step(monkeypatch, whole_index_in_place)
    _save(folder, chunk_max_chars=120)
    assert "replace" in steps
    assert len(chunk_counts) == 2  # the old index, then the new one, and nothing else in between


class _Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` catches it."""


@pytest.mark.parametrize(
    ("legacy", "stop_at"),
    [(False, 1), (False, 2), (True, 1), (True, 2), (True, 3)],
    ids=["versioned-link", "versioned-rename", "plain-link", "plain-first-rename", "plain-second-rename"],
)
def test_a_build_stopped_at_any_step_of_the_swap_leaves_an_index_used_without_rebuilding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, legacy: bool, stop_at: int
) -> None:
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path / "index")
    _save(settings.index_dir)
    if legacy:
        _as_plain_folder(settings.index_dir)
    steps: list[tuple[object, ...]] = []

    def counted(original: Callable[..., object]) -> Callable[..., object]:
        def step(*args: object) -> object:
            steps.append(args)
            if len(steps) == stop_at:
                raise _Killed
            return original(*args)

        return step

    monkeypatch.setattr(fileio.os, "replace", counted(os.replace))
    monkeypatch.setattr(fileio.os, "symlink", counted(os.symlink))
    monkeypatch.setattr(fileio.shutil, "rmtree", lambda *_, **__: None)  # a killed process cleans nothing up
    monkeypatch.setattr(fileio.Path, "unlink", lambda *_, **__: None)
    with pytest.raises(_Killed):
        _save(settings.index_dir)
    monkeypatch.undo()
    index, built = ensure_index(settings, HashEmbedder())
    assert not built, f"stopped at step {stop_at}: rebuilt from scratch"
    assert index.dense.ntotal == len(index.chunks) > 0


def test_a_missing_or_dangling_index_is_restored_from_the_newest_complete_version(tmp_path: Path) -> None:
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path / "index", chunk_max_chars=120)
    _save(settings.index_dir, chunk_max_chars=120)  # an older version, kept as the previous one
    _save(settings.index_dir)
    newest = settings.index_dir.resolve()
    damaged = fileio.new_version(settings.index_dir)  # newer, but damaged
    for file in newest.iterdir():
        shutil.copy(file, damaged / file.name)
    _overwrite(damaged / "dense.faiss", 128, 64)
    incomplete = fileio.new_version(settings.index_dir)  # newest of all, but never finished
    shutil.copy(newest / "chunks.jsonl", incomplete / "chunks.jsonl")
    shutil.rmtree(newest)  # the link now points nowhere
    index, built = ensure_index(settings, HashEmbedder())
    assert not built and index.manifest.chunk_max_chars == 120  # the older version: the newest whole one
    settings.index_dir.unlink()  # no link at all
    _, built = ensure_index(settings, HashEmbedder())
    assert not built


def test_old_versions_are_removed_but_the_previous_one_is_kept_for_readers(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    lives = []
    for size in (100, 150, 200, 250):
        _save(folder, chunk_max_chars=size)
        lives.append(folder.resolve())
    assert sorted(fileio.versions_folder(folder).iterdir()) == lives[-2:]
    in_progress = fileio.new_version(folder)  # another build, still writing
    orphan = tmp_path / ".index.link-1-1"  # a link a killed build made, hours ago
    orphan.symlink_to(lives[0].relative_to(tmp_path))
    os.utime(orphan, (0, 0), follow_symlinks=False)
    _save(folder)
    assert in_progress.exists() and lives[-2] not in fileio.versions_folder(folder).iterdir()
    assert not orphan.is_symlink()


KILL_BETWEEN_RENAMES = """
import os, signal, sys
from pathlib import Path
from qa import fileio
from qa.ingest.corpus import load_corpus
from qa.retrieve.embedder import HashEmbedder
from qa.retrieve.index import build_index, save_index

renames = []
original = os.replace
def replace(*args):
    renames.append(args)
    if len(renames) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args)
fileio.os.replace = replace
save_index(build_index(load_corpus(Path(sys.argv[1])).documents, HashEmbedder(), 120, 20), Path(sys.argv[2]))
"""


def test_a_real_kill_between_the_two_renames_of_a_plain_folder_swap_loses_nothing(tmp_path: Path) -> None:
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path / "index", chunk_max_chars=120, chunk_overlap_chars=20)
    _save(settings.index_dir)
    _as_plain_folder(settings.index_dir)  # the old layout: two renames to swap it
    child = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_RENAMES, str(CORPUS), str(settings.index_dir)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert not settings.index_dir.exists()  # killed exactly in the gap
    index, built = ensure_index(settings, HashEmbedder())
    assert not built and index.manifest.chunk_max_chars == 120  # the new version, recovered
