"""Keeping the library: qa add / remove / list, and builds that embed only what changed."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main
from qa.ingest.corpus import load_corpus
from qa.library import GONE, INDEXED, NOT_INDEXED, LibraryError, add_bytes, add_files, library_rows, remove_document
from qa.retrieve.embedder import HashEmbedder
from qa.retrieve.index import build_changes, build_index, load_index, save_index
from qa.service import ensure_index
from qa.settings import PROJECT_ROOT, Settings

from .conftest import CORPUS

LIBRARY = PROJECT_ROOT / "eval" / "library" / "docs"


class CountingEmbedder(HashEmbedder):
    """The hash embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed_documents(texts)


@pytest.fixture()
def library(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return Settings(model="hash", corpus_dir=corpus, index_dir=tmp_path / "index")


def test_add_copies_without_touching_the_original_and_refuses_a_different_file_of_the_same_name(library: Settings, tmp_path: Path) -> None:
    original = LIBRARY / "gov-holidays-2024.txt"
    before = original.read_bytes()
    added, errors = add_files(library.corpus_dir, [original, LIBRARY / "gov-holidays-2024.json"])
    assert not errors and {a.outcome for a in added} == {"added"}
    assert (library.corpus_dir / "gov-holidays-2024.txt").read_bytes() == before == original.read_bytes()
    # The same file again changes nothing; another file of that name is refused, then replaced when asked.
    assert add_bytes(library.corpus_dir, "gov-holidays-2024.txt", before).outcome == "same"
    changed = before.replace(b"2024", b"2024") + "\n附：更正。\n".encode()
    with pytest.raises(LibraryError, match=r"gov-holidays-2024\.txt：文档库中已有同名但内容不同的文件"):
        add_bytes(library.corpus_dir, "gov-holidays-2024.txt", changed)
    assert (library.corpus_dir / "gov-holidays-2024.txt").read_bytes() == before
    assert add_bytes(library.corpus_dir, "gov-holidays-2024.txt", changed, replace=True).outcome == "replaced"
    assert (library.corpus_dir / "gov-holidays-2024.txt").read_bytes() == changed


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("scan.pdf", b"%PDF-1.4 not really", r"scan\.pdf："),
        ("notes.doc", b"\xd0\xcf\x11\xe0", r"notes\.doc：不支持的文件格式"),
        ("empty.txt", b"   ", r"empty\.txt：文件是空的"),
        (".hidden.txt", "一、总则".encode(), r"\.hidden\.txt：这个文件名不能用作文档"),
        ("miit-2023-118.md", "# 另一份\n\n一、总则\n".encode(), r"文档编号 miit-2023-118 与文档库中的 miit-2023-118\.txt 重复"),
    ],
)
def test_add_refuses_what_a_build_would_skip_and_leaves_the_folder_as_it_was(library: Settings, name: str, data: bytes, message: str) -> None:
    before = sorted(p.name for p in library.corpus_dir.iterdir())
    with pytest.raises(LibraryError, match=message):
        add_bytes(library.corpus_dir, name, data)
    assert sorted(p.name for p in library.corpus_dir.iterdir()) == before


def test_remove_moves_the_document_and_its_json_aside(library: Settings) -> None:
    add_files(library.corpus_dir, [LIBRARY / "gov-holidays-2024.txt", LIBRARY / "gov-holidays-2024.json"])
    moved = remove_document(library.corpus_dir, "gov-holidays-2024")
    assert sorted(moved) == ["gov-holidays-2024.json", "gov-holidays-2024.txt"]
    assert [d.doc_id for d in load_corpus(library.corpus_dir).documents] == ["miit-2023-118"]
    assert len(list((library.corpus_dir / ".removed").glob("*/gov-holidays-2024.txt"))) == 1
    with pytest.raises(LibraryError, match="文档库中没有编号为“gov-holidays-2024”的文档"):
        remove_document(library.corpus_dir, "gov-holidays-2024")


def test_list_says_what_is_indexed_not_yet_indexed_gone_and_skipped(library: Settings) -> None:
    ensure_index(library, HashEmbedder(), force=True, report=lambda _: None)
    add_files(library.corpus_dir, [LIBRARY / "gov-holidays-2024.txt"])
    (library.corpus_dir / "broken.docx").write_bytes(b"not a zip")
    rows = {r.doc_id or r.file: r for r in library_rows(library)}
    assert rows["miit-2023-118"].status == INDEXED and rows["miit-2023-118"].chunks > 0
    assert rows["miit-2023-118"].doc_number == "工信部联科〔2023〕118号"
    assert rows["gov-holidays-2024"].status == NOT_INDEXED and rows["gov-holidays-2024"].chunks == 0
    assert rows["broken.docx"].status.startswith("已跳过：broken.docx：")
    remove_document(library.corpus_dir, "miit-2023-118")
    assert {r.doc_id: r.status for r in library_rows(library)}["miit-2023-118"] == GONE


def test_cli_add_list_remove(library: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in (("MODEL", "hash"), ("CORPUS_DIR", str(library.corpus_dir)), ("INDEX_DIR", str(library.index_dir))):
        monkeypatch.setenv(f"QA_{name}", value)
    assert main(["add", str(LIBRARY / "gov-holidays-2024.txt")]) == 0
    out = capsys.readouterr().out
    assert "已加入：gov-holidays-2024.txt（编号 gov-holidays-2024）" in out and "新增 2 份" in out  # no index before
    assert main(["add", str(LIBRARY / "gov-holidays-2024.json")]) == 0
    assert "更新 1 份（gov-holidays-2024）" in capsys.readouterr().out  # its metadata changed
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "文档库" in listing and "2 份文档" in listing
    assert "gov-holidays-2024\t" in listing and "\t已建索引" in listing
    assert main(["add", str(library.corpus_dir.parent / "missing.txt")]) == 2
    assert "missing.txt：文件不存在" in capsys.readouterr().err
    assert main(["remove", "gov-holidays-2024"]) == 0
    assert "删除 1 份（gov-holidays-2024）" in capsys.readouterr().out
    assert "gov-holidays-2024" not in load_index(library.index_dir).documents


def test_a_build_after_adding_one_document_embeds_only_that_document(library: Settings) -> None:
    embedder = CountingEmbedder()
    first, _ = ensure_index(library, embedder, force=True, report=lambda _: None)
    assert embedder.embedded  # the first build embeds everything
    add_files(library.corpus_dir, [LIBRARY / "gov-holidays-2024.txt"])
    embedder.embedded.clear()
    lines: list[str] = []
    second, built = ensure_index(library, embedder, force=True, report=lines.append)
    assert built
    new_doc = second.documents["gov-holidays-2024"]
    assert embedder.embedded and all(text in new_doc.text or text.split("\n", 1)[-1] in new_doc.text for text in embedder.embedded)
    assert second.embedded_now == ("gov-holidays-2024",)
    assert any("新增 1 份（gov-holidays-2024）" in line and "计算向量 1 份文档" in line for line in lines)
    # The reused vectors are the ones the first build computed, and the saved index reads back whole.
    reloaded = load_index(library.index_dir)
    miit_rows = [i for i, c in enumerate(reloaded.chunks) if c.doc_id == "miit-2023-118"]
    assert np.allclose(reloaded.dense.reconstruct_n(miit_rows[0], len(miit_rows)), first.dense.reconstruct_n(0, first.dense.ntotal))
    # Nothing changed: nothing is embedded.
    embedder.embedded.clear()
    ensure_index(library, embedder, force=True, report=lambda _: None)
    assert embedder.embedded == []


def test_build_changes_names_added_updated_removed() -> None:
    documents = load_corpus(LIBRARY).documents[:3]
    embedder = HashEmbedder()
    before = build_index(documents, embedder, 300, 60)
    from dataclasses import replace

    changed = [replace(documents[0], title=documents[0].title + "（修订）"), documents[2]]
    after = build_index(changed, embedder, 300, 60, previous=before)
    changes = build_changes(before, after)
    assert changes.updated == (documents[0].doc_id,) and changes.removed == (documents[1].doc_id,)
    assert changes.unchanged == (documents[2].doc_id,) and changes.added == ()


def test_vectors_of_a_changed_text_are_computed_again(tmp_path: Path) -> None:
    documents = list(load_corpus(CORPUS).documents)
    embedder = CountingEmbedder()
    before = build_index(documents, embedder, 300, 60)
    save_index(before, tmp_path / "index")
    from dataclasses import replace

    edited = [replace(documents[0], text=documents[0].text.replace("标准", "规范", 1))]
    embedder.embedded.clear()
    after = build_index(edited, embedder, 300, 60, previous=load_index(tmp_path / "index"))
    assert after.embedded_now == (documents[0].doc_id,) and embedder.embedded
