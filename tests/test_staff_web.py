"""The staff side of the web app with the fast hash model: question log, feedback, review page, rate limits, access log."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from qa.evaluate.evaluation import load_golden
from qa.feedback import question_key
from qa.service import QAService
from qa.settings import Settings
from web.accesslog import ACCESS_LOGGER, JsonFormatter
from web.app import create_app
from web.ratelimit import RateLimiter, is_local
from web.staff import SESSION_COOKIE, form_key

TOKEN = "review-token-0123456789"
ANSWERED = "新兴产业包括哪些领域？"
REFUSED = "多少"  # nothing asked about: refused whatever the model
PUBLIC_CLIENT = ("203.0.113.9", 50000)  # a documentation address: not this machine


@pytest.fixture()
def staff_settings(hash_settings: Settings, tmp_path: Path) -> Settings:
    return hash_settings.with_(db_path=tmp_path / "qa.sqlite3", staff_golden_path=tmp_path / "staff.jsonl", admin_token=TOKEN)


def make_client(settings: Settings, service: QAService, **kwargs: object) -> TestClient:
    return TestClient(create_app(settings, service), **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def client(staff_settings: Settings, hash_service: QAService) -> Iterator[TestClient]:
    with make_client(staff_settings, hash_service) as test_client:
        yield test_client


def store_of(client: TestClient):  # noqa: ANN201 - the app's FeedbackStore
    return client.app.state.records.store  # type: ignore[attr-defined]


def form_post(client: TestClient, url: str, fields: dict[str, str], **kwargs: object):  # noqa: ANN201
    return client.post(
        url,
        content=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})},  # type: ignore[dict-item]
        **kwargs,  # type: ignore[arg-type]
    )


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))


# ---------------------------------------------------------------- the question log


def test_each_question_asked_is_logged_with_its_answer(client: TestClient, hash_service: QAService) -> None:
    page = client.get("/?" + urlencode({"q": ANSWERED})).text
    answer_id = hidden(page, "answer_id")
    record = store_of(client).question(answer_id)
    assert record is not None
    assert record.question == ANSWERED and record.found and record.channel == "page"
    assert record.index_version == hash_service.index.manifest.corpus_fingerprint
    assert record.passages and record.scope is None

    data = client.post("/api/ask", json={"question": "那未来产业呢？", "previous": ANSWERED}).json()
    logged = store_of(client).question(data["answer_id"])
    assert logged is not None and logged.channel == "api"
    assert (logged.question, logged.interpreted) == ("那未来产业呢？", "未来产业包括哪些领域？")


def test_the_question_log_can_be_switched_off(staff_settings: Settings, hash_service: QAService) -> None:
    with make_client(staff_settings.with_(log_questions=False), hash_service) as client:
        data = client.post("/api/ask", json={"question": ANSWERED}).json()
        assert data["answer_id"] == ""
        page = client.get("/?" + urlencode({"q": ANSWERED})).text
        assert hidden(page, "answer_id") == ""
        assert store_of(client).counts()["questions"] == 0
        # Feedback still works: the form carries the question and the answer.
        response = client.post("/api/feedback", json={"question": ANSWERED, "answer": data["answer"], "useful": False})
        assert response.status_code == 201
        assert store_of(client).feedback()[0].question == ANSWERED


# ---------------------------------------------------------------- feedback


def test_feedback_by_answer_id_over_the_api(client: TestClient) -> None:
    answer_id = client.post("/api/ask", json={"question": ANSWERED}).json()["answer_id"]
    response = client.post("/api/feedback", json={"answer_id": answer_id, "useful": False, "comment": "少了一个领域"})
    assert response.status_code == 201
    assert response.json()["message"] == "感谢您的反馈。"
    (row,) = store_of(client).feedback()
    assert (row.answer_id, row.question, row.useful, row.comment) == (answer_id, ANSWERED, False, "少了一个领域")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"useful": True}, 400, "请提供回答编号"),
        ({"answer_id": "0123456789abcdef", "useful": True}, 404, "没有找到这个回答"),  # the schema allows it: not 400
        ({"question": "问题", "answer": "回答", "useful": False, "comment": "长" * 501}, 400, "意见太长"),
        ({"question": " ", "answer": "回答", "useful": False}, 400, "请提供回答编号"),
        ({"question": "问题", "answer": "回答", "useful": "yes"}, 422, "useful"),
        ({"question": "问题", "answer": "回答"}, 422, "useful：缺少此项"),
    ],
)
def test_bad_feedback_gets_a_chinese_error_and_stores_nothing(client: TestClient, body: dict, status: int, message: str) -> None:
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert store_of(client).counts()["feedback"] == 0


def test_the_feedback_form_works_without_javascript(client: TestClient) -> None:
    page = client.get("/?" + urlencode({"q": ANSWERED})).text
    assert re.search(r'<form class="feedback" method="post" action="/feedback"', page)
    assert 'name="useful" value="1"' in page and 'name="useful" value="0"' in page
    fields = {name: hidden(page, name) for name in ("answer_id", "question", "answer", "back")}
    response = form_post(client, "/feedback", {**fields, "useful": "0", "comment": "引用的条款不对"})
    assert response.status_code == 200
    assert "感谢您的反馈" in response.text
    assert f'href="{html.escape(fields["back"])}"' in response.text  # back to the answer
    (row,) = store_of(client).feedback()
    assert (row.answer_id, row.useful, row.comment) == (fields["answer_id"], False, "引用的条款不对")


def test_every_answer_on_the_page_has_its_feedback_form(client: TestClient) -> None:
    page = client.get("/?" + urlencode([("q", "重点任务有哪些？"), ("h", REFUSED), ("h", ANSWERED)])).text
    forms = re.findall(r'<form class="feedback".*?</form>', page, flags=re.S)
    assert len(forms) == 3  # two earlier answers (one refused) and the new one
    assert [hidden(f, "question") for f in forms] == [REFUSED, ANSWERED, "重点任务有哪些？"]


def test_the_feedback_form_refuses_a_missing_choice_and_another_site_as_back_link(client: TestClient) -> None:
    response = form_post(client, "/feedback", {"question": "问题", "answer": "回答"})
    assert response.status_code == 400 and "请选择“有用”或“没用”" in response.text
    response = form_post(client, "/feedback", {"question": "问题", "answer": "回答", "useful": "1", "back": "//evil.example/"})
    assert response.status_code == 200 and "evil.example" not in response.text
    response = client.post("/feedback", json={"useful": True})
    assert response.status_code == 400


# ---------------------------------------------------------------- the review page


def test_review_is_off_without_a_token(hash_settings: Settings, hash_service: QAService, tmp_path: Path) -> None:
    settings = hash_settings.with_(db_path=tmp_path / "qa.sqlite3")
    with make_client(settings, hash_service) as client:
        for response in (client.get("/review"), client.get("/review", headers={"Authorization": "Bearer anything"})):
            assert response.status_code == 403
            assert "审核页面未启用" in response.text and "QA_ADMIN_TOKEN" in response.text
        assert form_post(client, "/review/login", {"token": "x"}).status_code == 403


def test_review_asks_for_the_token(client: TestClient) -> None:
    response = client.get("/review")
    assert response.status_code == 401
    assert "审核口令" in response.text and 'action="/review/login"' in response.text
    assert client.get("/review", headers={"Authorization": "Bearer wrong-token-123456"}).status_code == 401
    response = client.get("/review", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    wrong = form_post(client, "/review/login", {"token": "wrong"})
    assert wrong.status_code == 401 and "口令不正确" in wrong.text
    assert SESSION_COOKIE not in wrong.cookies


def test_review_lists_refused_questions_and_answers_marked_not_useful(client: TestClient) -> None:
    for text in (REFUSED, REFUSED + "？", "有哪些？"):
        client.post("/api/ask", json={"question": text})
    answer_id = client.post("/api/ask", json={"question": ANSWERED}).json()["answer_id"]
    client.post("/api/feedback", json={"answer_id": answer_id, "useful": False, "comment": "缺了民用航空"})
    response = client.get("/review", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    page = response.text
    assert "没有找到答案的问题" in page and "被标为“没用”的回答" in page
    refused_section, useful_section = page.split("被标为“没用”的回答", 1)
    assert refused_section.index(REFUSED) < refused_section.index("有哪些")  # most frequent first
    assert "2 次" in refused_section
    assert ANSWERED in useful_section and "缺了民用航空" in useful_section
    recent = client.get("/review?sort=recent", headers={"Authorization": f"Bearer {TOKEN}"}).text
    refused_recent = recent.split("被标为“没用”的回答", 1)[0]
    assert refused_recent.index("有哪些") < refused_recent.index(REFUSED)  # newest first


def test_an_item_page_shows_the_passages_retrieved(client: TestClient, hash_service: QAService) -> None:
    client.post("/api/ask", json={"question": REFUSED})
    (item,) = store_of(client).review("refused")
    page = client.get(f"/review/refused/{item.ref}", headers={"Authorization": f"Bearer {TOKEN}"}).text
    logged = store_of(client).question_row(item.ref)
    assert logged.passages
    for passage in logged.passages:
        assert html.escape(passage.text) in page
    assert "加入回归测试" in page and 'action="/review/golden"' in page
    assert client.get("/review/refused/999999", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    assert client.get(f"/review/refused/{item.ref}").status_code == 401


def login(client: TestClient) -> None:
    response = form_post(client, "/review/login", {"token": TOKEN}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/review"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie and TOKEN not in cookie  # the cookie holds a keyed hash, never the token
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/review" in set_cookie


def test_a_staff_member_turns_a_refused_question_into_a_golden_question(client: TestClient, staff_settings: Settings) -> None:
    client.post("/api/ask", json={"question": REFUSED})
    login(client)
    assert client.get("/review").status_code == 200  # the cookie now signs in
    (item,) = store_of(client).review("refused")
    page = client.get(f"/review/refused/{item.ref}").text
    fields = {"kind": "refused", "ref": str(item.ref), "question": REFUSED, "expect": "refuse", "all": "", "any": ""}
    # Without the form's key (a form posted from another site), nothing is written.
    assert form_post(client, "/review/golden", fields).status_code == 403
    assert not staff_settings.staff_golden_path.exists()
    response = form_post(client, "/review/golden", {**fields, "form_key": hidden(page, "form_key")}, follow_redirects=False)
    assert response.status_code == 303
    (golden,) = load_golden(staff_settings.staff_golden_path)
    assert response.headers["location"] == f"/review?added={golden.id}"
    assert (golden.question, golden.answerable, golden.kind) == (REFUSED, False, "staff")
    listing = client.get(response.headers["location"]).text
    assert f"已加入回归测试：{golden.id}" in listing
    assert store_of(client).review("refused") == []  # handled: off the list
    assert store_of(client).golden_id(question_key(REFUSED)) == golden.id


def test_expected_facts_are_typed_in_one_a_line_and_checked(client: TestClient, staff_settings: Settings) -> None:
    answer_id = client.post("/api/ask", json={"question": ANSWERED}).json()["answer_id"]
    client.post("/api/feedback", json={"answer_id": answer_id, "useful": False})
    (item,) = store_of(client).review("not_useful")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    fields = {"kind": "not_useful", "ref": str(item.ref), "question": ANSWERED, "expect": "answer", "all": "", "any": ""}
    missing = form_post(client, "/review/golden", fields, headers=auth)
    assert missing.status_code == 400 and "请至少填写一个答案应包含的要点" in missing.text
    done = form_post(client, "/review/golden", {**fields, "all": "新一代信息技术\n\n 民用航空 \n"}, headers=auth, follow_redirects=False)
    assert done.status_code == 303
    (golden,) = load_golden(staff_settings.staff_golden_path)
    assert golden.all_of == ("新一代信息技术", "民用航空") and golden.answerable
    again = form_post(client, "/review/golden", {**fields, "all": "新材料"}, headers=auth)
    assert again.status_code == 400 and "已在" in again.text
    assert len(load_golden(staff_settings.staff_golden_path)) == 1


def test_logout_clears_the_cookie(client: TestClient) -> None:
    login(client)
    response = client.post("/review/logout", follow_redirects=False)
    assert response.status_code == 303
    client.cookies.clear()
    assert client.get("/review").status_code == 401


def test_the_form_key_depends_on_the_token(staff_settings: Settings) -> None:
    assert form_key(staff_settings) != form_key(staff_settings.with_(admin_token="another-token-0123456789"))


# ---------------------------------------------------------------- rate limiting


def test_the_token_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(30.0)  # one token every 30 s
    assert limiter.take("b") == 0  # per client
    now[0] += 30.0
    assert limiter.take("a") == 0
    small = RateLimiter(per_minute=60, clock=lambda: now[0], max_clients=3)
    for client in "abcde":
        small.take(client)
    assert len(small) == 3


def test_clients_on_this_machine_are_local() -> None:
    assert is_local("127.0.0.1") and is_local("::1") and is_local(None) and is_local("testclient")
    assert not is_local("203.0.113.9") and not is_local("10.0.0.2")


def test_questions_and_feedback_over_the_rate_get_a_chinese_429(staff_settings: Settings, hash_service: QAService) -> None:
    settings = staff_settings.with_(rate_limit_per_minute=2)
    with make_client(settings, hash_service, client=PUBLIC_CLIENT) as client:
        assert client.get("/").status_code == 200  # the empty page asks nothing: not counted
        assert client.post("/api/ask", json={"question": ANSWERED}).status_code == 200
        assert client.post("/api/feedback", json={"question": "问", "answer": "答", "useful": True}).status_code == 201
        limited = client.post("/api/ask", json={"question": ANSWERED})
        assert limited.status_code == 429
        assert re.fullmatch(r"请求太频繁，请在\d+秒后再试。", limited.json()["detail"])
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        page = client.get("/?" + urlencode({"q": ANSWERED}))
        assert page.status_code == 429 and "请求太频繁" in page.text and page.headers["content-type"].startswith("text/html")
        assert client.post("/api/feedback", json={"question": "问", "answer": "答", "useful": True}).status_code == 429
        assert client.get("/api/documents").status_code == 200  # other routes are not limited


def test_loopback_clients_are_not_limited_unless_asked(staff_settings: Settings, hash_service: QAService) -> None:
    settings = staff_settings.with_(rate_limit_per_minute=1)
    with make_client(settings, hash_service, client=("127.0.0.1", 5000)) as client:
        assert all(client.post("/api/ask", json={"question": ANSWERED}).status_code == 200 for _ in range(3))
    with make_client(settings.with_(rate_limit_loopback=True), hash_service, client=("127.0.0.1", 5000)) as client:
        assert [client.post("/api/ask", json={"question": ANSWERED}).status_code for _ in range(2)] == [200, 429]
    with make_client(settings.with_(rate_limit_per_minute=0), hash_service, client=PUBLIC_CLIENT) as client:
        assert all(client.post("/api/ask", json={"question": ANSWERED}).status_code == 200 for _ in range(3))


# ---------------------------------------------------------------- access log and errors


def test_each_request_gets_an_id_and_one_access_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = client.get("/?" + urlencode({"q": ANSWERED}))
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["latency_ms"] >= 0
    assert ANSWERED not in json.dumps(line, ensure_ascii=False)  # the question (query string) is not logged
    # A proxy's request id is kept when it is a plain token, replaced when not.
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-abc123456"}).headers["x-request-id"] == "nginx-abc123456"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


def test_an_error_is_logged_with_its_traceback_and_never_shown(
    staff_settings: Settings, hash_service: QAService, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(hash_service, "ask", broken)
    caplog.set_level(logging.INFO)
    with make_client(staff_settings, hash_service, raise_server_exceptions=False) as client:
        response = client.post("/api/ask", json={"question": ANSWERED})
    assert response.status_code == 500
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name in ("web.app", ACCESS_LOGGER)]
    error = next(line for line in lines if "traceback" in line)
    access = next(line for line in lines if line.get("path") == "/api/ask")
    assert "RuntimeError: secret internal detail" in error["traceback"]
    assert error["request_id"] == access["request_id"] and access["status"] == 500


# ---------------------------------------------------------------- the API's answer


def test_api_passages_and_citations_carry_what_an_integrator_links_to(client: TestClient, hash_service: QAService) -> None:
    data = client.post("/api/ask", json={"question": ANSWERED}).json()
    document = hash_service.index.documents["miit-2023-118"]
    for passage in data["passages"]:
        assert passage["title"] == document.title
        assert passage["text"] == document.text[passage["start"] : passage["end"]]
        assert passage["section"]
    for citation in data["citations"]:
        assert citation["doc_number"] == "工信部联科〔2023〕118号"
        url = citation["url"]
        assert url.startswith("http://testserver/documents/miit-2023-118?hl=")
        page = client.get(url.removeprefix("http://testserver"))
        assert page.status_code == 200 and html.escape(citation["text"]) in page.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"title", "text"} <= set(schema["PassageOut"]["properties"])
    assert {"doc_number", "url"} <= set(schema["Citation"]["properties"])
    assert "answer_id" in schema["AnswerOut"]["properties"]


def test_copy_citation_keeps_each_quote_apart(hash_service: QAService) -> None:
    from web.app import citation_text

    document = hash_service.index.documents["miit-2023-118"]
    text = citation_text(["到2025年", "新制定国家标准和行业标准2000项以上"], document, "四、主要目标", "http://x/documents/1")
    lines = text.splitlines()
    assert lines[:2] == ["“到2025年”", "“新制定国家标准和行业标准2000项以上”"]
    assert lines[2] == f"——{document.title}（工信部联科〔2023〕118号），四、主要目标"
    assert lines[3] == "原文链接：http://x/documents/1"
