"""The library in the web app: the documents page, scope, original files, uploads and hot reload."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.cli import main
from qa.library import add_bytes
from qa.retrieve.embedder import HashEmbedder
from qa.service import QAService, ensure_index
from qa.settings import PROJECT_ROOT, Settings
from web.app import create_app, suggestions
from web.library import UPLOAD_OFF, document_kind, library_summary

from .conftest import CORPUS

LIBRARY = PROJECT_ROOT / "eval" / "library" / "docs"
TOKEN = "library-token-0123456789"
HOLIDAYS = "gov-holidays-2024"
MIIT = "miit-2023-118"


def make_library(folder: Path) -> Path:
    corpus = folder / "corpus"
    shutil.copytree(CORPUS, corpus)
    for name in (f"{HOLIDAYS}.txt", "guangdong-carbon-emission-trial-measures.md", "guangdong-carbon-emission-trial-measures.json"):
        shutil.copy(LIBRARY / name, corpus / name)
    sidecar = json.loads((LIBRARY / f"{HOLIDAYS}.json").read_text(encoding="utf-8"))
    sidecar["examples"] = ["春节放假安排是什么？"]
    (corpus / f"{HOLIDAYS}.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
    (corpus / "broken.docx").write_bytes(b"not a zip file")
    return corpus


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    corpus = make_library(tmp_path)
    return Settings(
        model="hash", corpus_dir=corpus, index_dir=tmp_path / "index", db_path=tmp_path / "qa.sqlite3", index_check_seconds=0
    )


@pytest.fixture()
def service(settings: Settings) -> QAService:
    return QAService.load(settings, show_progress=False)


@pytest.fixture()
def client(settings: Settings, service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service)) as client:
        yield client


def test_documents_page_lists_every_document_and_the_home_page_links_to_it(client: TestClient, service: QAService) -> None:
    page = client.get("/documents").text
    for doc in service.index.documents.values():
        assert doc.title in page and f'href="/documents/{doc.doc_id}"' in page and f"/?doc={doc.doc_id}" in page
    assert "国办发明电〔2023〕7号" in page and "国务院办公厅" in page and "2023-10-25" in page
    passages = sum(1 for c in service.index.chunks if c.doc_id == HOLIDAYS)
    assert f"{passages} 段" in page
    assert "broken.docx：" in page  # files not taken, with their reason
    home = client.get("/").text
    assert 'href="/documents"' in home and "收录 3 份政策文件" in home
    assert 'href="/docs"' not in home and "接口文档" not in home  # not a citizen's word
    assert client.get("/openapi.json").status_code == 200


def test_example_questions_come_from_several_documents(service: QAService) -> None:
    examples, _ = suggestions(service.index.documents.values())
    assert examples[:2] == ["春节放假安排是什么？", service.index.documents[MIIT].examples[0]]


def test_library_summary_counts_kinds_and_names_issuers(service: QAService) -> None:
    line = library_summary(service.index.documents.values())
    assert line.startswith("收录 3 份政策文件（") and "通知2份" in line and "办法1份" in line and "国务院办公厅" in line
    assert document_kind("国务院关于印发《某某管理办法》的通知") == "通知"


def test_api_documents_includes_skipped_files_with_their_reason(client: TestClient) -> None:
    data = client.get("/api/documents").json()
    assert {d["doc_id"] for d in data["documents"]} == {HOLIDAYS, MIIT, "guangdong-carbon-emission-trial-measures"}
    assert all(d["passages"] > 0 for d in data["documents"])
    assert [s["file"] for s in data["skipped"]] == ["broken.docx"] and data["skipped"][0]["reason"].startswith("broken.docx：")


def test_the_original_file_is_served_only_for_documents_of_the_library(client: TestClient, settings: Settings) -> None:
    response = client.get(f"/documents/{HOLIDAYS}/file")
    assert response.status_code == 200 and response.content == (settings.corpus_dir / f"{HOLIDAYS}.txt").read_bytes()
    assert response.headers["content-disposition"].startswith("attachment")  # never shown as a page of this site
    assert client.get("/documents/broken/file").status_code == 404
    assert client.get("/documents/..%2F..%2Fetc%2Fpasswd/file").status_code == 404
    page = client.get(f"/documents/{HOLIDAYS}").text
    assert f'href="/documents/{HOLIDAYS}/file"' in page and f'href="/?doc={HOLIDAYS}#q"' in page and "就这份文件提问" in page


QUESTION = "节假日安排通知的文号是什么？"  # a document field: answered whatever the model


def test_scope_on_the_page_and_in_the_api(client: TestClient) -> None:
    everywhere = client.post("/api/ask", json={"question": QUESTION}).json()
    assert everywhere["found"] and {c["doc_id"] for c in everywhere["citations"]} == {HOLIDAYS}
    within = client.post("/api/ask", json={"question": QUESTION, "doc_ids": [MIIT]}).json()
    assert all(c["doc_id"] == MIIT for c in within["citations"]) and all(p["doc_id"] == MIIT for p in within["passages"])
    unknown = client.post("/api/ask", json={"question": QUESTION, "doc_ids": ["nope"]})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]  # a document the library lacks
    page = client.get("/", params={"q": QUESTION, "doc": MIIT}).text
    assert f'value="{MIIT}" checked' in page and f'value="{HOLIDAYS}" checked' not in page
    assert "已选 1 份文件" in page
    assert f"/documents/{HOLIDAYS}" not in page.split('class="ask-form"')[0]  # no card from another document
    answered = client.get("/", params={"q": QUESTION}).text
    assert "出自《国务院办公厅关于2024年部分节假日安排的通知》" in answered  # several documents: the answer names its own


def test_scope_in_the_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in (("MODEL", "hash"), ("CORPUS_DIR", str(settings.corpus_dir)), ("INDEX_DIR", str(settings.index_dir))):
        monkeypatch.setenv(f"QA_{name}", value)
    assert main(["ask", "--json", "--doc", MIIT, QUESTION]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert all(c["doc_id"] == MIIT for c in answer["citations"]) and all(p["doc_id"] == MIIT for p in answer["passages"])
    assert main(["ask", "--doc", "nope", QUESTION]) == 2
    assert "nope" in capsys.readouterr().err


GBK_NOTICE = "关于开放图书馆夜间阅览的通知\n\n一、开放时间\n\n每周五和周六晚上开放至二十二时。\n".encode("gbk")


def test_upload_is_off_without_a_token(client: TestClient) -> None:
    response = client.post("/api/documents", files={"file": ("library.txt", GBK_NOTICE)})
    assert response.status_code == 403 and response.json()["detail"] == UPLOAD_OFF
    assert client.get("/review/upload").status_code == 403


def test_upload_with_the_token_adds_the_file_and_the_server_answers_from_it(settings: Settings, service: QAService) -> None:
    staff = settings.with_(admin_token=TOKEN)
    app = create_app(staff, service)
    with TestClient(app) as client:
        anonymous = client.post("/api/documents", files={"file": ("library.txt", GBK_NOTICE)})
        assert anonymous.status_code == 401 and not (settings.corpus_dir / "library.txt").exists()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        response = client.post("/api/documents", files={"file": ("library.txt", GBK_NOTICE)}, headers=auth)
        assert response.status_code == 202, response.text
        assert response.json()["doc_id"] == "library" and response.json()["build"]["state"] == "building"
        assert (settings.corpus_dir / "library.txt").read_bytes() == GBK_NOTICE
        app.state.builder.wait()
        assert app.state.builder.status.state == "done" and "新增 1 份（library）" in app.state.builder.status.message
        assert "library" in [d["doc_id"] for d in client.get("/api/documents").json()["documents"]]  # no restart
        answer = client.post("/api/ask", json={"question": "图书馆周五和周六晚上开放到几点？", "doc_ids": ["library"]}).json()
        assert answer["found"] and answer["citations"][0]["doc_id"] == "library"
        # The CLI's refusals, in the same words.
        bad = client.post("/api/documents", files={"file": ("scan.doc", b"\xd0\xcf\x11\xe0")}, headers=auth)
        assert bad.status_code == 400 and bad.json()["detail"].startswith("scan.doc：不支持的文件格式")
        clash = client.post("/api/documents", files={"file": ("library.txt", b"other text")}, headers=auth)
        assert clash.status_code == 400 and "同名但内容不同" in clash.json()["detail"]
        assert (settings.corpus_dir / "library.txt").read_bytes() == GBK_NOTICE


def test_an_upload_over_the_size_limit_is_refused(settings: Settings, service: QAService) -> None:
    app = create_app(settings.with_(admin_token=TOKEN, max_upload_bytes=1000), service)
    with TestClient(app) as client:
        response = client.post("/api/documents", files={"file": ("big.txt", "字".encode() * 1000)}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 413 and response.json()["detail"] == "文件太大，最多 0.001 MB。"
    assert not (settings.corpus_dir / "big.txt").exists()


def test_the_upload_page_needs_a_login_and_its_form_key(settings: Settings, service: QAService) -> None:
    app = create_app(settings.with_(admin_token=TOKEN), service)
    with TestClient(app) as client:
        assert client.get("/review/upload").status_code == 401  # the login form
        client.post("/review/login", data={"token": TOKEN}, follow_redirects=False)
        page = client.get("/review/upload").text
        assert 'enctype="multipart/form-data"' in page
        key = page.split('name="form_key" value="')[1].split('"')[0]
        forged = client.post("/review/upload", files={"file": ("library.txt", GBK_NOTICE)}, data={"form_key": "x"})
        assert forged.status_code == 403 and not (settings.corpus_dir / "library.txt").exists()
        done = client.post("/review/upload", files={"file": ("library.txt", GBK_NOTICE)}, data={"form_key": key})
        assert done.status_code == 200 and "已加入：library.txt" in done.text and "正在更新索引" in done.text
        app.state.builder.wait()
        assert "索引已更新" in client.get("/review/upload").text


def test_a_rebuilt_index_is_swapped_in_while_questions_are_answered(settings: Settings, service: QAService) -> None:
    """Threads ask in a loop while the index is rebuilt twice: no failed request, each answer from one whole library."""
    app = create_app(settings, service)
    before = set(service.index.documents)
    errors: list[str] = []
    seen: list[set[str]] = []
    stop = threading.Event()

    def ask_in_a_loop(client: TestClient) -> None:
        for _ in range(200):
            if stop.is_set():
                return
            response = client.post("/api/ask", json={"question": "图书馆夜间开放到几点？"})
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text}")
                continue
            data = response.json()
            seen.append({p["doc_id"] for p in data["passages"]})

    with TestClient(app) as client:
        threads = [threading.Thread(target=ask_in_a_loop, args=(client,)) for _ in range(3)]
        for thread in threads:
            thread.start()
        add_bytes(settings.corpus_dir, "library.txt", GBK_NOTICE)
        ensure_index(settings, HashEmbedder(), force=True, report=lambda _: None)
        client.get("/healthz")  # any request notices the new link; the load runs beside the answers
        for _ in range(100):
            if "library" in app.state.service.index.documents:
                break
            threading.Event().wait(0.05)
        (settings.corpus_dir / "broken.docx").unlink()
        ensure_index(settings, HashEmbedder(), force=True, report=lambda _: None)
        client.get("/healthz")
        threading.Event().wait(0.3)
        stop.set()
        for thread in threads:
            thread.join()
        assert errors == []
        assert app.state.watcher.swaps >= 1 and "library" in app.state.service.index.documents
        # Each answer came from one library, the old or the new: never a passage of a document neither holds.
        assert seen and all(docs <= before | {"library"} for docs in seen)
        assert client.get("/healthz").json()["documents"] == 4


def test_source_cards_show_a_passage_once_and_a_document_title_once(service: QAService) -> None:
    from qa.types import Answer, Citation
    from web.app import source_cards

    doc = service.index.documents[MIIT]
    chunks = [c for c in service.index.chunks if c.doc_id == MIIT]
    wide, other = chunks[1], chunks[3]

    def cite(chunk_start: int, chunk_end: int, start: int, end: int) -> Citation:
        return Citation(MIIT, doc.title, "§", doc.text[start:end], start, end, 1.0, chunk_start, chunk_end)

    inner = (wide.start + 5, wide.start + 20)
    answer = Answer(
        "问",
        True,
        "答",
        "text",
        (
            cite(wide.start, wide.end, wide.start, wide.start + 4),
            cite(inner[0], inner[1], inner[0], inner[1]),  # a passage inside the first one: the same card
            cite(wide.end - 10, wide.end + 30, wide.end + 2, wide.end + 8),  # one overlapping its end: widens it
            cite(other.start, other.end, other.start, other.start + 4),
        ),
    )
    cards = source_cards(answer, service.index.documents)
    assert len(cards) == 2 and sum(1 for p in cards[0].pieces if p.quote) == 3
    assert "".join(p.text for p in cards[0].pieces) == doc.text[wide.start : wide.end + 30]
    assert [card.same_document for card in cards] == [False, True]  # the title is shown on the first card only
