"""The web server under hostile input and load: size limits, load shedding, strict validation."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.cli import main
from qa.service import QAService, validate_question
from qa.settings import Settings
from qa.types import Answer
from web.app import PREVIOUS_PATTERN, create_app, get_service
from web.limits import RETRY_AFTER_SECONDS, Admission, server_options

QUESTION = "新兴产业包括哪些领域？"
ENGLISH = ("Input should", "error parsing", "JSON decode", "Content Too Large", "Field required", "Bad Request")


@pytest.fixture()
def client(hash_settings: Settings, hash_service: QAService) -> Iterator[TestClient]:
    with TestClient(create_app(hash_settings, hash_service)) as test_client:
        yield test_client


def chinese_detail(response: Any) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and not any(phrase in detail for phrase in ENGLISH), detail
    return detail


# --- raw ASGI calls: what the app reads of a body ----------------------------------------------


def call_asgi(app: FastAPI, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict[str, str], bytes, int]:
    """POST `chunks` to the app one ASGI message at a time: (status, headers, body, chunks it pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= len(chunks):
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, pulled


def test_a_body_declared_too_large_is_refused_without_reading_it(hash_settings: Settings, hash_service: QAService) -> None:
    app = create_app(hash_settings.with_(max_body_bytes=1024), hash_service)
    status, headers, body, pulled = call_asgi(
        app, "/api/ask", {"content-type": "application/json", "content-length": str(20 * 1024 * 1024)}, [b"{" * 1024] * 100
    )
    assert status == 413 and pulled == 0
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"detail": "请求内容太大，最多 1 KB。"}


def test_a_streamed_body_is_cut_off_at_the_limit(hash_settings: Settings, hash_service: QAService) -> None:
    app = create_app(hash_settings.with_(max_body_bytes=4096), hash_service)
    status, _, body, pulled = call_asgi(app, "/api/ask", {"content-type": "application/json"}, [b" " * 1024] * 1000)
    assert status == 413 and json.loads(body) == {"detail": "请求内容太大，最多 4 KB。"}
    assert pulled == 5  # 5 KB read of the 1,000 KB sent: past the limit, no further


def test_a_body_within_the_limit_is_answered(hash_settings: Settings, hash_service: QAService) -> None:
    app = create_app(hash_settings.with_(max_body_bytes=4096), hash_service)
    payload = json.dumps({"question": QUESTION}).encode()
    status, _, body, _ = call_asgi(app, "/api/ask", {"content-type": "application/json"}, [payload[:10], payload[10:]])
    assert status == 200 and json.loads(body)["found"] is True


def test_a_page_gets_a_chinese_page_for_a_body_too_large(client: TestClient, hash_settings: Settings) -> None:
    response = client.post("/", content=b"x" * (hash_settings.max_body_bytes + 1), headers={"accept": "text/html"})
    assert response.status_code == 413
    assert '<html lang="zh-CN">' in response.text and "请求内容太大" in response.text


def test_a_url_over_the_limit_gets_414(hash_settings: Settings, hash_service: QAService) -> None:
    client = TestClient(create_app(hash_settings.with_(max_url_bytes=4096), hash_service))
    response = client.get("/documents/x", params={"ret": "/" + "a" * 4096})
    assert response.status_code == 414 and "链接太长，最多 4 KB" in response.text
    response = client.get("/api/documents", params={"x": "a" * 4096})
    assert response.status_code == 414 and "链接太长" in chinese_detail(response)
    assert client.get("/documents/miit-2023-118", params={"ret": "/" + "a" * 3000}).status_code == 200


def test_the_longest_conversation_link_is_within_the_url_limit(client: TestClient, hash_settings: Settings) -> None:
    """Five earlier questions and a new one, each at the length limit, and the document link that carries them back."""
    longest = "标" * hash_settings.max_question_chars
    response = client.get("/", params=[("q", longest), *(("h", longest) for _ in range(5))])
    assert response.status_code == 200
    document_link = "/documents/miit-2023-118?" + "&".join(["hl=1-2", "ret=" + "%25E6%25A0%2587" * 6 * len(longest)])
    assert client.get(document_link).status_code == 200


# --- a real server: errors, never a reset --------------------------------------------------------


@contextmanager
def running_server(app: FastAPI, settings: Settings) -> Iterator[int]:
    """uvicorn on a loopback port with the options `qa serve` uses; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **server_options(settings)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            threading.Event().wait(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def raw_exchange(port: int, request: bytes, then_send: bytes = b"") -> bytes:
    """Send a request head (and maybe part of a body), read the response until the server closes or it is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        if then_send:
            conn.sendall(then_send)
        response = b""
        while True:  # until the server closes, or the head and a few bytes of body have come
            data = conn.recv(65536)
            response += data
            if not data or (b"\r\n\r\n" in response and not response.endswith(b"\r\n\r\n")):
                return response


def test_a_real_server_answers_oversized_urls_and_bodies_with_an_http_error(
    hash_settings: Settings, hash_service: QAService
) -> None:
    with running_server(create_app(hash_settings, hash_service), hash_settings) as port:
        url = b"/?x=" + b"a" * (hash_settings.max_url_bytes + 1024)
        assert raw_exchange(port, b"GET " + url + b" HTTP/1.1\r\nHost: t\r\n\r\n").startswith(b"HTTP/1.1 414")
        huge = raw_exchange(port, b"GET /?x=", b"a" * 8 * 1024 * 1024 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        assert huge.startswith(b"HTTP/1.1 431") and "链接或请求头太长" in huge.decode("utf-8", "replace")
        garbled = raw_exchange(port, b"GET / HTTP/1.1\r\nHost t\r\n\r\n")
        assert garbled.startswith(b"HTTP/1.1 400") and "请求无法解析" in garbled.decode("utf-8", "replace")
        head = b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        declared = head + f"Content-Length: {20 * 1024 * 1024}\r\n\r\n".encode()
        assert raw_exchange(port, declared, b"{" * 65536).startswith(b"HTTP/1.1 413")
        chunked = head + b"Transfer-Encoding: chunked\r\n\r\n"
        chunks = (b"10000\r\n" + b" " * 65536 + b"\r\n") * 2
        assert raw_exchange(port, chunked, chunks).startswith(b"HTTP/1.1 413")


def test_qa_serve_runs_uvicorn_with_the_limits_and_keep_alive_of_the_settings(
    hash_service: QAService, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: dict[str, Any] = {}
    monkeypatch.setattr(QAService, "load", classmethod(lambda cls, settings, show_progress=True: hash_service))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options))
    monkeypatch.setenv("QA_KEEP_ALIVE_SECONDS", "90")
    monkeypatch.setenv("QA_MAX_URL_BYTES", "40000")
    assert main(["serve", "--model", "hash", "--port", "8123"]) == 0
    assert started["timeout_keep_alive"] == 90 and started["port"] == 8123
    assert started["h11_max_incomplete_event_size"] > 40000  # the server reads a URL up to the app's own limit


# --- load shedding ---------------------------------------------------------------------------


class _SlowService:
    """Answers only when released, so a test can hold questions in flight."""

    def __init__(self, service: QAService) -> None:
        self.settings = service.settings
        self.index = service.index
        self.service = service
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def ask(self, question: object, top_k: int | None = None, retriever: str | None = None) -> Answer:
        self.entered.release()
        assert self.release.wait(timeout=60)
        return self.service.ask(question, top_k=top_k, retriever=retriever)


def test_questions_beyond_the_limit_get_503_at_once_and_health_still_answers(
    hash_settings: Settings, hash_service: QAService
) -> None:
    app = create_app(hash_settings.with_(max_in_flight=2), hash_service)
    app.state.admission = Admission(2, workers=2)  # as on two cores, whatever this machine has
    slow = _SlowService(hash_service)
    app.dependency_overrides[get_service] = lambda: slow
    with TestClient(app) as client:
        held = [threading.Thread(target=client.post, args=("/api/ask",), kwargs={"json": {"question": q}}) for q in ("甲", "乙")]
        for thread in held:
            thread.start()
        for _ in held:
            assert slow.entered.acquire(timeout=60)  # both in flight, blocked
        try:
            refused = client.post("/api/ask", json={"question": QUESTION})
            assert refused.status_code == 503 and refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert "服务繁忙" in chinese_detail(refused)
            page = client.get("/", params={"q": QUESTION}, headers={"accept": "text/html"})
            assert page.status_code == 503 and "服务繁忙" in page.text and '<html lang="zh-CN">' in page.text
            assert client.get("/healthz").json()["status"] == "ok"
            assert client.get("/").status_code == 200  # the empty page needs no answering
        finally:
            slow.release.set()
            for thread in held:
                thread.join(timeout=60)
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_questions_beyond_the_workers_wait_their_turn_within_the_limit(
    hash_settings: Settings, hash_service: QAService
) -> None:
    app = create_app(hash_settings, hash_service)
    app.state.admission = Admission(2, workers=1)
    slow = _SlowService(hash_service)
    app.dependency_overrides[get_service] = lambda: slow
    with TestClient(app) as client:
        answers: list[int] = []

        def ask() -> None:
            answers.append(client.post("/api/ask", json={"question": QUESTION}).status_code)

        held = [threading.Thread(target=ask) for _ in range(2)]
        held[0].start()
        assert slow.entered.acquire(timeout=60)  # the one worker is busy
        held[1].start()
        for _ in range(6000):  # the second is admitted, waiting for the worker
            if app.state.admission.in_flight == 2:
                break
            threading.Event().wait(0.01)
        assert app.state.admission.in_flight == 2
        try:
            assert client.post("/api/ask", json={"question": QUESTION}).status_code == 503
        finally:
            slow.release.set()
            for thread in held:
                thread.join(timeout=60)
        assert answers == [200, 200]


def test_health_never_waits_for_a_worker_thread(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    threads_used = []
    run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(*args: Any, **kwargs: Any) -> Any:
        threads_used.append(args[0])
        return await run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    assert client.get("/healthz").status_code == 200
    assert threads_used == []
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    assert len(threads_used) == 1  # questions do run in a worker thread


def test_the_server_settings_are_validated() -> None:
    for name in ("QA_MAX_BODY_BYTES", "QA_MAX_URL_BYTES", "QA_MAX_IN_FLIGHT", "QA_KEEP_ALIVE_SECONDS"):
        with pytest.raises(Exception, match=name):
            Settings.from_env({name: "0"})
    assert Settings.from_env({"QA_MAX_IN_FLIGHT": "3"}).max_in_flight == 3


# --- strict validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "top_k", ["5", True, 5.5, 5.0, None], ids=["string", "true", "fraction", "whole-float-is-5", "null-is-default"]
)
def test_top_k_must_be_a_json_integer(client: TestClient, top_k: object) -> None:
    response = client.post("/api/ask", json={"question": QUESTION, "top_k": top_k})
    if top_k is None or top_k == 5.0:  # 5.0 is the number 5: JSON Schema's `integer` allows it
        assert response.status_code == 200
        assert len(response.json()["passages"]) <= (5 if top_k else 50)
    else:
        assert response.status_code == 422 and chinese_detail(response) == "请求格式不正确：top_k：应为整数"


@pytest.mark.parametrize("body", [b'{"question": "q", "top_k": NaN}', b'{"question": NaN}', b'{"question": "q", "top_k": Infinity}'])
def test_nan_and_infinity_get_the_chinese_422(client: TestClient, body: bytes) -> None:
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and chinese_detail(response).startswith("请求格式不正确：")


def test_a_body_that_is_not_utf8_gets_a_chinese_400(client: TestClient) -> None:
    response = client.post("/api/ask", content=b'{"question": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert response.status_code == 400 and chinese_detail(response) == "请求内容无法解析，请发送 UTF-8 编码的 JSON。"


INVISIBLE_QUESTIONS = ["\u200b", "\ufeff", "\u200b\u200c\u200d\u2060\ufeff", " \u200b \u3000\u200e", "\u3164\u3164", "\u2800", "\ufe0f"]


@pytest.mark.parametrize("question", INVISIBLE_QUESTIONS)
def test_questions_of_only_invisible_characters_are_empty(client: TestClient, question: str) -> None:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 400 and "问题不能为空" in chinese_detail(response)
    page = client.get("/", params={"q": question})
    assert page.status_code == 400 and "问题不能为空" in page.text


def test_invisible_characters_around_a_question_are_dropped() -> None:
    assert validate_question("\ufeff\u200b 新兴产业有哪些？\u200b", 500) == "新兴产业有哪些？"


@pytest.mark.parametrize("url", ["/?q=%FF", "/?q=%E6%96", "/?h=%C3%28&q=x", "/documents/%FF", "/api/documents/%E6"])
def test_a_url_that_is_not_utf8_gets_a_chinese_400_not_a_replacement(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert "不是 UTF-8 编码" in response.text and "\ufffd" not in response.text


def test_the_schema_declares_the_limits(hash_settings: Settings, hash_service: QAService) -> None:
    app = create_app(hash_settings.with_(max_question_chars=300), hash_service)
    schema = TestClient(app).get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]
    assert schema["question"]["minLength"] == 1 and schema["question"]["maxLength"] == 300
    assert {"type": "string", "maxLength": 300, "pattern": PREVIOUS_PATTERN} in schema["previous"]["anyOf"]
    top_k = next(option for option in schema["top_k"]["anyOf"] if option.get("type") == "integer")
    assert top_k["minimum"] == 1 and top_k["maximum"] == 50
