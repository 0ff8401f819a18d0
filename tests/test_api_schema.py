"""The JSON API against its own OpenAPI schema, with schemathesis: no 5xx, answers as declared, limits as enforced.

Every operation gets a bounded number of generated requests from the schema the app
publishes (the app factory over the hash-model service), valid ones and, where there is
something to get wrong, invalid ones. All of schemathesis' checks run on each answer: no
server error; status codes, content types, headers and bodies as the schema declares them;
a request the schema allows is accepted (no 400 or 422 for a question the schema says is
fine) and one it forbids is refused.

schemathesis' own pytest loader (`from_fixture`) does not run under pytest 9, so the cases
are drawn with its strategies inside one plain Hypothesis test per operation and mode.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from qa.service import QAService
from qa.settings import Settings
from web.app import create_app

EXAMPLES = 30  # per operation and mode: about 270 requests, some seconds in all
WITH_A_BODY = {"POST /api/ask", "POST /api/feedback"}  # the operations whose input can be invalid
QUESTION = "新兴产业包括哪些领域？"


@pytest.fixture(scope="module")
def client(hash_settings: Settings, hash_service: QAService) -> TestClient:
    return TestClient(create_app(hash_settings, hash_service))


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


def operations(api_schema: Any, labels: set[str] | None = None) -> list[Any]:
    found = [result.ok() for result in api_schema.get_all_operations()]
    return [operation for operation in found if labels is None or operation.label in labels]


def test_the_schema_names_every_api_operation(api_schema: Any) -> None:
    labels = {operation.label for operation in operations(api_schema)}
    assert {"POST /api/ask", "GET /api/documents", "GET /api/documents/{doc_id}", "GET /healthz"} <= labels
    assert labels >= WITH_A_BODY


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_the_api_keeps_to_its_schema(api_schema: Any, mode: GenerationMode) -> None:
    chosen = operations(api_schema, None if mode == GenerationMode.POSITIVE else WITH_A_BODY)
    for operation in chosen:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def keeps_to_the_schema(case: schemathesis.Case) -> None:
            case.call_and_validate()

        keeps_to_the_schema()


# --- the limits the schema declares, one by one --------------------------------------------------


def properties(client: TestClient, model: str) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json()["components"]["schemas"][model]["properties"])


def string_option(field: dict[str, Any]) -> dict[str, Any]:
    return next(option for option in field["anyOf"] if option.get("type") == "string")


def question_schema(client: TestClient) -> Any:
    return jsonschema_rs.validator_for(properties(client, "AskRequest")["question"])


@pytest.mark.parametrize("question", ["   ", "\u200b\u3000", "\u3164", "\ue000", "\u0301", "\u2800\ufe0f"])
def test_a_question_with_nothing_visible_is_outside_the_schema_and_refused(client: TestClient, question: str) -> None:
    assert not question_schema(client).is_valid(question)
    assert client.post("/api/ask", json={"question": question}).status_code == 400


@pytest.mark.parametrize("question", [QUESTION, "？", "2025", "a", "\u200b问\u200b", "Ω\t≥\n"])
def test_a_question_with_something_visible_is_inside_the_schema_and_answered(client: TestClient, question: str) -> None:
    assert question_schema(client).is_valid(question)
    assert client.post("/api/ask", json={"question": question}).status_code == 200


@pytest.mark.parametrize("question", [QUESTION + "\x0b", "\x1f" + QUESTION, QUESTION + "\x00"])
def test_control_characters_anywhere_in_the_question_are_refused_as_the_schema_says(client: TestClient, question: str) -> None:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 400 and response.json()["detail"] == "问题包含无法识别的控制字符，请只输入文字。"
    previous = client.post("/api/ask", json={"question": QUESTION, "previous": question})
    assert previous.status_code == 400 and previous.json()["detail"].startswith("上一个问题（previous）有误：")


def test_the_length_limit_counts_the_question_as_sent(client: TestClient, hash_settings: Settings) -> None:
    limit = hash_settings.max_question_chars
    assert properties(client, "AskRequest")["question"]["maxLength"] == limit
    padded = QUESTION + " " * (limit - len(QUESTION) + 1)  # one over the limit, only by its trailing spaces
    response = client.post("/api/ask", json={"question": padded})
    assert response.status_code == 400 and "问题太长" in response.json()["detail"]


def test_a_previous_question_with_nothing_visible_means_none(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": QUESTION, "previous": "\u200b "}).status_code == 200


def test_unknown_document_ids_are_404_and_none_is_the_whole_library(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": QUESTION, "doc_ids": []}).status_code == 200
    unknown = client.post("/api/ask", json={"question": QUESTION, "doc_ids": ["no-such-document"]})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "没有找到编号为“no-such-document”的文件。"


def test_every_422_is_declared_as_the_chinese_detail_it_is(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    declared = [op["responses"]["422"] for path in schema["paths"].values() for op in path.values() if "422" in op["responses"]]
    assert declared and all(
        r["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"} for r in declared
    )
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    response = client.post("/api/feedback", json={"useful": "yes"})
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)


def test_feedback_declares_what_it_needs(client: TestClient) -> None:
    model = client.get("/openapi.json").json()["components"]["schemas"]["FeedbackIn"]
    assert [option["required"] for option in model["anyOf"]] == [["answer_id"], ["question", "answer"]]
    assert string_option(model["properties"]["comment"])["maxLength"] == 500
    assert client.post("/api/feedback", json={"useful": True}).status_code == 400
    assert client.post("/api/feedback", json={"useful": True, "answer_id": "  "}).status_code == 400
    unknown = client.post("/api/feedback", json={"useful": True, "answer_id": "0000000000000000"})
    assert unknown.status_code == 404 and "没有找到这个回答" in unknown.json()["detail"]
    stored = client.post(
        "/api/feedback", json={"useful": True, "answer_id": "0000000000000000", "question": QUESTION, "answer": "-"}
    )
    assert stored.status_code == 201
    blank = client.post("/api/feedback", json={"useful": True, "question": "\u200b", "answer": "-"})
    assert blank.status_code == 400  # nothing visible: no question, so no answer named
    long_comment = client.post(
        "/api/feedback", json={"useful": True, "question": QUESTION, "answer": "-", "comment": "好" + " " * 500}
    )
    assert long_comment.status_code == 400 and "意见太长" in long_comment.json()["detail"]
