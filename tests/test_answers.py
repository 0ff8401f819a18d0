"""Answer extraction, refusal, validation and the JSON contract, on the model-free embedder."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from qa.cli import format_answer, main
from qa.errors import QuestionError, SettingsError
from qa.service import QAService
from qa.settings import Settings
from qa.types import Answer, Citation


def _assert_grounded(service: QAService, question: str) -> dict:
    answer = service.ask(question)
    data = answer.to_json()
    for c in data["citations"]:
        assert service.index.documents[c["doc_id"]].text[c["start"] : c["end"]] == c["text"]
        assert c["passage_start"] <= c["start"] < c["end"] <= c["passage_end"]
        assert c["text"] in data["answer"]
    return data


def test_number_answer_has_number_unit_qualifier_and_year(hash_service: QAService) -> None:
    data = _assert_grounded(hash_service, "到2025年新制定国家标准和行业标准多少项？")
    assert data["found"] and data["answer_type"] == "number"
    assert "2000项以上" in data["answer"] and "2025" in data["answer"]
    assert any("2025" in c["text"] for c in data["citations"])


def test_list_answer_holds_every_item(hash_service: QAService) -> None:
    data = _assert_grounded(hash_service, "未来产业包括哪些领域？")
    assert data["found"] and data["answer_type"] == "list"
    for field in [
        "元宇宙",
        "脑机接口",
        "量子信息",
        "人形机器人",
        "生成式人工智能",
        "生物制造",
        "未来显示",
        "未来网络",
        "新型储能",
    ]:
        assert field in data["answer"]


def test_enumeration_question_gets_every_item_head(hash_service: QAService) -> None:
    data = _assert_grounded(hash_service, "保障措施有哪些？")
    assert data["answer_type"] == "list"
    assert [c["text"][:2] for c in data["citations"]] == ["一是", "二是", "三是", "四是", "五是"]


def test_generic_target_for_a_year_lists_all_its_numbers(hash_service: QAService) -> None:
    data = _assert_grounded(hash_service, "2025年的目标是什么？")
    for number in ["60%以上", "2000项以上", "300项以上", "10000家以上", "超过90%"]:
        assert number in data["answer"]


@pytest.mark.parametrize(
    "question",
    [
        "2030年要新制定多少项国家标准？",
        "有没有补贴？",
        "今天天气怎么样",
        "领航工程总投资多少亿元？",
        "2040年的目标是什么",
        "有哪些？",
        "多少？",
    ],
)
def test_questions_the_document_cannot_answer_are_refused(hash_service: QAService, question: str) -> None:
    data = hash_service.ask(question).to_json()
    assert not data["found"] and data["answer_type"] == "none" and data["citations"] == []
    assert data["answer"].startswith("未在文件中找到")


def test_typos_and_traditional_characters_are_understood(hash_service: QAService) -> None:
    data = _assert_grounded(hash_service, "方案的保彰措施有哪几条?")
    assert data["interpreted"] == "方案的保障措施有哪几条?"
    assert "加强组织领导" in data["answer"]
    assert "2000项以上" in _assert_grounded(hash_service, "到2025年新制定國家標準和行業標準多少項？")["answer"]


def test_json_contract(hash_service: QAService) -> None:
    data = hash_service.ask("到2025年重点领域国际标准转化率是多少", top_k=3).to_json()
    assert {"question", "found", "answer", "answer_type", "citations", "latency_ms", "passages"} <= set(data)
    assert set(data["citations"][0]) >= {"doc_id", "title", "section", "text", "start", "end", "score"}
    assert len(data["passages"]) == 3
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "不能为空"),
        ("   ", "不能为空"),
        ("问" * 501, "太长"),
        (123, "必须是文字"),
        ("新兴\ud800产业", "无法识别的字符"),
        ("a\x00b", "控制字符"),
    ],
)
def test_bad_questions_get_a_clear_chinese_error(hash_service: QAService, question: object, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        hash_service.ask(question)


def test_bad_settings_are_reported_by_name() -> None:
    with pytest.raises(SettingsError, match="QA_TOP_K"):
        Settings.from_env({"QA_TOP_K": "many"})
    with pytest.raises(SettingsError, match="QA_RETRIEVER"):
        Settings.from_env({"QA_RETRIEVER": "magic"})
    assert Settings.from_env({"QA_PORT": "9000", "QA_DENSE_WEIGHT": "0.5"}).port == 9000


def test_cli_ask_json_reads_questions_from_stdin(
    hash_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("新兴产业有哪些领域\n\n有补贴吗\n".encode())))
    assert main(["ask", "--json", "--model", "hash", "--index", str(hash_settings.index_dir)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["found"] for line in lines] == [True, False]


def test_cli_stdin_reports_a_misencoded_line_and_goes_on(
    hash_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = "未来产业有哪些\n".encode() + "新兴产业".encode("gbk") + b"\n" + "保障措施有哪些\n".encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stream)))
    assert main(["ask", "--json", "--model", "hash", "--index", str(hash_settings.index_dir)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("found") for line in lines] == [True, None, True]
    assert "第2行不是有效的 UTF-8" in lines[1]["error"]


def test_cli_prints_one_line_errors_without_traceback(
    hash_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    assert main(["ask", "--model", "hash", "--index", str(hash_settings.index_dir), " "]) == 2
    assert capsys.readouterr().err.strip() == "错误：问题不能为空，请输入您想了解的内容。"
    assert main(["ask", "--model", "hash", "--corpus", str(tmp_path / "none"), "问题"]) == 2
    assert capsys.readouterr().err.strip() == f"错误：文件夹 {tmp_path / 'none'} 不存在，请检查 QA_CORPUS_DIR 或 --corpus。"
    assert main(["ask", "--model", str(tmp_path / "no-model"), "问题"]) == 2
    assert "向量模型文件夹" in capsys.readouterr().err
    (tmp_path / "not-a-model").mkdir()
    assert main(["ask", "--model", str(tmp_path / "not-a-model"), "问题"]) == 2
    assert "无法加载向量模型" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("question", "kind", "facts"),
    [
        ("这份通知的文号是什么？", "text", ["工信部联科〔2023〕118号"]),
        ("通知的落款日期是哪天？", "text", ["2023年8月3日"]),
        ("这篇通知是什么时候发布的？", "text", ["2023-08-22"]),
        ("哪些部门印发了这个通知？", "list", ["工业和信息化部", "科技部", "国家能源局", "国家标准化管理委员会"]),
        ("新产业是指什么？", "text", ["新兴产业和未来产业"]),
        ("脑机接口属于哪类产业？", "text", ["未来产业"]),
        ("建体系包括哪些工作？", "list", ["六项具体工作"]),
        ("到2030年要达到什么目标？", "text", ["2030", "标准化工作体系更加健全"]),
    ],
)
def test_answer_kinds_on_the_bundled_policy(hash_service: QAService, question: str, kind: str, facts: list[str]) -> None:
    data = _assert_grounded(hash_service, question)
    assert data["found"] and data["answer_type"] == kind, data["answer"]
    for fact in facts:
        assert fact in data["answer"]


def test_cli_quotes_a_passage_outside_any_section_under_its_title_alone() -> None:
    quote = Citation("d", "某某通知", "", "发文机关：国务院", 0, 8, 1.0, 0, 8, doc_number="国发〔2015〕67号")
    shown = format_answer(Answer("谁发的", True, "国务院", "who", citations=(quote,), latency_ms=5.0))
    assert "[1] 某某通知（国发〔2015〕67号）  (字符 0–8)" in shown
    nested = format_answer(Answer("谁发的", True, "国务院", "who", citations=(replace(quote, section="通知 › 一、总则"),), latency_ms=5.0))
    assert "[1] 某某通知（国发〔2015〕67号） › 一、总则  (字符 0–8)" in nested
