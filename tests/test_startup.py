"""Start-up: what is derived from the documents is computed at build, saved, and read back exactly."""

from __future__ import annotations

import gc
import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.answer.extract import Answerer
from qa.answer.scoring import load_weights
from qa.errors import IndexCorruptError
from qa.ingest.corpus import load_corpus
from qa.retrieve import index as index_module
from qa.retrieve.embedder import HashEmbedder
from qa.retrieve.index import Index, build_index, load_index, save_index
from qa.retrieve.lexical import LexicalIndex
from qa.service import QAService
from qa.settings import PROJECT_ROOT, Settings
from qa.text import dictionary
from qa.text.sentences import document_sentences, sentence_idf
from qa.text.spelling import HomophoneCorrector
from qa.types import Document

from .conftest import CORPUS

LIBRARY = PROJECT_ROOT / "eval" / "library" / "docs"
SOME_LIBRARY_DOCS = ("gov-holidays-2024", "miit-2023-118", "prc-resident-id-card-law", "nev-industry-development-plan-2021-2035")
QUESTIONS = ("未来产业有哪些？", "国际标准转化率是多少", "春节放假几天", "居民身份证有效期", "保彰措施", "2025年")


def _documents() -> list[Document]:
    bundled = load_corpus(CORPUS).documents
    library = [d for d in load_corpus(LIBRARY).documents if d.doc_id in SOME_LIBRARY_DOCS and d.doc_id not in {b.doc_id for b in bundled}]
    return [*bundled, *library]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Index, Path]:
    folder = tmp_path_factory.mktemp("startup") / "index"
    save_index(build_index(_documents(), HashEmbedder(), 300, 60), folder)
    return load_index(folder), folder


def test_loaded_sentence_tables_and_idf_equal_those_computed_from_the_text(saved: tuple[Index, Path]) -> None:
    index, _ = saved
    assert index.derived is not None
    assert len(index.documents) >= 4
    fresh = {d.doc_id: document_sentences(d) for d in index.documents.values()}
    assert list(index.derived.sentences) == list(fresh)
    for doc_id, table in fresh.items():
        loaded = index.derived.sentences[doc_id]
        assert loaded == table  # outline lines, sentences (spans, paths, lead, years, facts, groups), sign-off
        assert [s.bigrams for s in loaded.sentences] == [s.bigrams for s in table.sentences]  # not part of Sentence equality
        assert loaded.title_bigrams == table.title_bigrams and loaded.groups == table.groups
    assert index.derived.idf == sentence_idf(fresh.values())
    # The answerer's own computation from the text agrees with what was saved.
    computed = Answerer(replace(index, derived=None), load_weights())
    assert computed.idf == index.derived.idf and computed.docs == index.derived.sentences


def test_loaded_corrector_and_lexical_index_equal_those_computed_from_the_text(saved: tuple[Index, Path]) -> None:
    index, _ = saved
    assert index.derived is not None
    texts = [d.text for d in index.documents.values()]
    fresh = HomophoneCorrector(texts)
    loaded = HomophoneCorrector((), tables=index.derived.corrector)
    assert loaded.bigrams == fresh.bigrams
    assert loaded._char_counts == fresh._char_counts
    assert loaded._abbreviations == fresh._abbreviations
    assert loaded._chars_by_sound == fresh._chars_by_sound
    chunk_texts = [index_module.index_text(index.document_of(c), c) for c in index.chunks]
    lexical = LexicalIndex(chunk_texts)
    for question in (*QUESTIONS, *chunk_texts[:3]):
        assert np.array_equal(index.derived.lexical.scores(question), lexical.scores(question))


def test_a_service_starts_from_a_saved_index_without_reading_the_text_again(
    saved: tuple[Index, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, folder = saved
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=folder)
    expected = [QAService(settings, HashEmbedder(), replace(index, derived=None)).ask(q) for q in QUESTIONS]

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("start-up recomputed what the build saved")

    import qa.answer.extract
    import qa.retrieve.lexical
    import qa.text.spelling

    monkeypatch.setattr(qa.answer.extract, "document_sentences", refuse)
    monkeypatch.setattr(qa.answer.extract, "sentence_idf", refuse)
    monkeypatch.setattr(qa.text.spelling, "corrector_tables", refuse)
    monkeypatch.setattr(qa.retrieve.lexical.bm25s.BM25, "index", refuse)
    service = QAService(settings, HashEmbedder(), load_index(folder))
    monkeypatch.undo()
    answers = [service.ask(q) for q in QUESTIONS]
    assert [(a.answer, a.citations, [p.chunk for p in a.passages]) for a in answers] == [
        (a.answer, a.citations, [p.chunk for p in a.passages]) for a in expected
    ]


def test_an_incremental_build_reuses_the_sentence_tables_of_unchanged_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = _documents()
    first = build_index(documents, HashEmbedder(), 300, 60)
    computed: list[str] = []

    def counting(doc: Document) -> object:
        computed.append(doc.doc_id)
        return document_sentences(doc)

    monkeypatch.setattr(index_module, "document_sentences", counting)
    changed = [replace(documents[0], text=documents[0].text + "\n第九十九条 本办法自发布之日起施行。"), *documents[1:]]
    second = build_index(changed, HashEmbedder(), 300, 60, previous=first)
    assert computed == [documents[0].doc_id]
    assert first.derived is not None and second.derived is not None
    assert second.derived.sentences[documents[1].doc_id] is first.derived.sentences[documents[1].doc_id]
    assert second.derived.sentences[documents[0].doc_id] == document_sentences(changed[0])
    assert second.derived.idf == sentence_idf(document_sentences(d) for d in changed)


def test_a_sentence_table_that_does_not_fit_its_document_is_damage(saved: tuple[Index, Path], tmp_path: Path) -> None:
    import hashlib
    import shutil

    _, folder = saved
    copy = tmp_path / "index"
    shutil.copytree(folder.resolve(), copy)
    path = copy / "sentence_tables.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["sentences"][0][1] = 10**9  # a span past the end of the document
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(data)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["sentence_tables.jsonl"] = hashlib.sha256(data).hexdigest()  # checksums agree: the content is checked
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    index = load_index(copy)  # tables are read when first needed: the damage shows then
    assert index.derived is not None
    with pytest.raises(IndexCorruptError, match=r"索引已损坏.*qa build"):
        index.derived.sentences[rows[0]["doc_id"]]
    second = rows[1]["doc_id"]
    assert index.derived.sentences[second] == document_sentences(index.documents[second])


def test_a_sentence_table_of_another_length_than_its_vectors_is_damage(saved: tuple[Index, Path], tmp_path: Path) -> None:
    import hashlib
    import shutil

    _, folder = saved
    copy = tmp_path / "index"
    shutil.copytree(folder.resolve(), copy)
    path = copy / "embedded.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["sentences"] -= 1
    rows[1]["sentences"] += 1  # the totals still agree with the vectors
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(data)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["embedded.jsonl"] = hashlib.sha256(data).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    index = load_index(copy)
    assert index.derived is not None
    with pytest.raises(IndexCorruptError, match=r"索引已损坏.*qa build"):
        index.derived.sentences[rows[0]["doc_id"]]


def test_a_start_reads_no_sentence_table_and_a_question_only_those_of_its_documents(
    saved: tuple[Index, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, folder = saved
    read: list[str] = []
    original = index_module.sentences_from_json

    def counting(doc: Document, data: dict[str, object]) -> object:
        read.append(doc.doc_id)
        return original(doc, data)

    monkeypatch.setattr(index_module, "sentences_from_json", counting)
    index = load_index(folder)
    service = QAService(Settings(model="hash", corpus_dir=CORPUS, index_dir=folder), HashEmbedder(), index)
    assert read == []
    answer = service.ask("居民身份证的有效期是多久")
    assert answer.found and answer.doc_id == "prc-resident-id-card-law"
    assert 1 <= len(set(read)) < len(index.documents) and len(read) == len(set(read))  # each read once


def test_a_build_says_how_many_passages_it_embeds_and_how_long_it_should_take() -> None:
    lines: list[str] = []
    build_index(_documents()[:2], HashEmbedder(), 300, 60, batch_size=8, report=lines.append)
    assert len(lines) == 1 and re.fullmatch(r"计算向量：约 \d+ 段，预计(?:不到 1| \d+) 分钟", lines[0])
    assert index_module.estimate_line(1000, 270.0) == "计算向量：约 1000 段，预计 5 分钟"
    lines.clear()
    first = build_index(_documents()[:2], HashEmbedder(), 300, 60)
    build_index(_documents()[:2], HashEmbedder(), 300, 60, previous=first, report=lines.append)
    assert lines == []  # nothing to embed: nothing to announce


def test_a_service_is_ready_before_its_dictionaries_load_and_answers_the_same_once_they_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(model="hash", corpus_dir=CORPUS, index_dir=tmp_path / "index")
    question = "保彰措施有哪些"  # a typo: the corrector needs jieba's words and pypinyin's readings
    expected = QAService.load(settings, show_progress=False).ask(question)  # builds the index
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_load() -> None:
        started.set()
        release.wait(5)
        finished.set()

    def refuse() -> None:
        raise AssertionError("the start waited for a dictionary")

    monkeypatch.setattr(dictionary, "_load", slow_load)
    monkeypatch.setattr(dictionary, "_jieba", refuse)
    monkeypatch.setattr(dictionary, "_pypinyin", refuse)
    service = QAService.load(settings, show_progress=False)
    assert started.wait(5) and not finished.is_set()  # loading in the background, not waited for
    monkeypatch.undo()
    release.set()
    answer = service.ask(question)
    assert answer.interpreted == expected.interpreted != ""
    assert (answer.answer, answer.citations, [p.chunk for p in answer.passages]) == (
        expected.answer,
        expected.citations,
        [p.chunk for p in expected.passages],
    )


def test_a_dictionary_that_cannot_load_fails_where_it_is_used_not_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("No module named 'jieba'")

    for loader in threading.enumerate():  # another start's loader pauses collections while it runs
        if loader.name == "dictionaries":
            loader.join()
    monkeypatch.setattr(dictionary, "_jieba", missing)
    dictionary._load()  # nothing raised on the background thread
    assert gc.isenabled()  # collections paused while loading are resumed
    with pytest.raises(ImportError, match="jieba"):
        "政策" in dictionary.words()  # noqa: B015 - the look-up is what raises
