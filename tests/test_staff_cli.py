"""The command line for staff and new users: golden add, feedback export, early checks, Chinese messages, settings."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.cli import _progress, main
from qa.errors import SettingsError
from qa.evaluate.evaluation import GoldenSetError, load_golden
from qa.evaluate.staff_golden import append_golden, golden_id, new_golden_question
from qa.feedback import FeedbackStore
from qa.service import QAService
from qa.settings import PROJECT_ROOT, Settings

ANSWERED = "新兴产业包括哪些领域？"


# ---------------------------------------------------------------- qa golden add


def test_golden_add_appends_a_question_graded_like_the_golden_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "staff.jsonl"
    assert main(["golden", "add", ANSWERED, "--fact", "新一代信息技术", "--fact", "民用航空", "--file", str(path)]) == 0
    assert main(["golden", "add", "有补贴吗", "--refuse", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"已加入回归测试：{golden_id(ANSWERED)}" in out and "应当拒答" in out
    first, second = load_golden(path)
    assert (first.question, first.all_of, first.answerable, first.kind, first.lang) == (
        ANSWERED, ("新一代信息技术", "民用航空"), True, "staff", "zh-Hans"
    )
    assert (second.question, second.answerable) == ("有补贴吗", False)
    # The same question again (even in traditional characters) is refused, and the file is unchanged.
    before = path.read_text(encoding="utf-8")
    assert main(["golden", "add", "新興產業包括哪些領域？", "--fact", "新材料", "--file", str(path)]) == 2
    assert "已在" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["问题"], "请至少填写一个答案应包含的要点"),
        (["问题", "--refuse", "--fact", "x"], "不需要填写要点"),
        (["  "], "问题不能为空"),
    ],
)
def test_golden_add_checks_what_is_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    path = tmp_path / "staff.jsonl"
    assert main(["golden", "add", *argv, "--file", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert not path.exists()


def test_golden_add_defaults_to_the_staff_golden_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_STAFF_GOLDEN_PATH", str(tmp_path / "mine.jsonl"))
    assert main(["golden", "add", ANSWERED, "--fact", "新材料"]) == 0
    assert load_golden(tmp_path / "mine.jsonl")[0].question == ANSWERED


def test_concurrent_appends_all_land(tmp_path: Path) -> None:
    path = tmp_path / "staff.jsonl"
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            append_golden(path, new_golden_question(f"第{n}个问题", ["要点"]))
        except BaseException as exc:  # noqa: BLE001 - every failure is counted
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(q.question for q in load_golden(path)) == sorted(f"第{n}个问题" for n in range(12))


def test_a_damaged_staff_file_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "staff.jsonl"
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(GoldenSetError, match="不是有效的 JSON"):
        append_golden(path, new_golden_question("问题", ["要点"]))
    assert path.read_text(encoding="utf-8") == "{not json\n"


# ---------------------------------------------------------------- qa feedback export


@pytest.fixture()
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_service: QAService) -> Path:
    path = tmp_path / "qa.sqlite3"
    monkeypatch.setenv("QA_DB_PATH", str(path))
    store = FeedbackStore(path)
    answer_id = store.record_question(ANSWERED, hash_service.ask(ANSWERED))
    store.record_feedback(False, "缺了民用航空", answer_id=answer_id)
    store.close()
    return path


def test_feedback_export_writes_csv_a_spreadsheet_reads(database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "feedback.csv"
    assert main(["feedback", "export", "-o", str(out)]) == 0
    assert "已导出 1 条反馈" in capsys.readouterr().err
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:2] == ["反馈时间", "问题"] and rows[1][1] == ANSWERED and rows[1][4:6] == ["没用", "缺了民用航空"]
    assert main(["feedback", "export", "--log", "-o", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "提问时间" and rows[1][1] == ANSWERED


def test_feedback_export_to_standard_output(database: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["feedback", "export"]) == 0
    assert capsysbinary.readouterr().out.decode("utf-8-sig").startswith("反馈时间,问题")


def test_feedback_export_without_a_database_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QA_DB_PATH", str(tmp_path / "none.sqlite3"))
    assert main(["feedback", "export"]) == 2
    assert "不存在" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()


# ---------------------------------------------------------------- early checks, before the model loads


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("qa.service.load_query_embedder", refuse)
    monkeypatch.setattr("qa.retrieve.embedder.load_embedder", refuse)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", ""], "错误：问题不能为空，请输入您想了解的内容。"),
        (["ask", "问题", "--top-k", "0"], "错误：top_k（返回的段落数）必须在 1 到 50 之间，不能是 0。"),
        (["ask", "问题", "--top-k", "51"], "错误：top_k（返回的段落数）必须在 1 到 50 之间，不能是 51。"),
        (["ask", "问题", "--corpus", "/no/such/folder"], "错误：文件夹 /no/such/folder 不存在，请检查 QA_CORPUS_DIR 或 --corpus。"),
        (["build", "--corpus", "/no/such/folder"], "错误：文件夹 /no/such/folder 不存在，请检查 QA_CORPUS_DIR 或 --corpus。"),
        (["ask"], "错误：没有输入问题"),
        (["serve", "--workers", "0"], "错误：--workers 必须是正整数"),
    ],
)
def test_mistakes_fail_at_once_without_loading_the_model(
    no_model: None, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_serve_checks_the_database_before_the_model(
    no_model: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QA_DB_PATH", str(tmp_path))
    assert main(["serve"]) == 2
    assert "是一个文件夹" in capsys.readouterr().err


def test_command_line_mistakes_are_explained_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ask", "问题", "--top-k", "many"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "错误：参数 --top-k 应为整数，不能是 'many'（用 qa ask --help 查看用法）"
    with pytest.raises(SystemExit):
        main(["golden"])
    assert capsys.readouterr().err.startswith("错误：缺少参数")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：qa") and "显示这段帮助后退出" in out


def test_progress_bars_only_on_a_terminal() -> None:
    assert _progress("建立索引") is None  # pytest captures stderr: not a terminal


# ---------------------------------------------------------------- settings


def test_staff_settings_from_the_environment(tmp_path: Path) -> None:
    default = Settings(index_dir=tmp_path / "index")
    assert default.database_path == tmp_path / "data" / "policy-qa.sqlite3"
    assert Settings().database_path == PROJECT_ROOT / "data" / "policy-qa.sqlite3"  # gitignored
    assert default.log_questions and default.admin_token == "" and default.rate_limit_per_minute == 60
    env = {
        "QA_DB_PATH": str(tmp_path / "qa.db"),
        "QA_LOG_QUESTIONS": "off",
        "QA_LOG_RETENTION_DAYS": "7",
        "QA_ADMIN_TOKEN": "x" * 16,
        "QA_RATE_LIMIT_PER_MINUTE": "0",
        "QA_RATE_LIMIT_LOOPBACK": "yes",
    }
    settings = Settings.from_env(env)
    assert settings.database_path == tmp_path / "qa.db"
    assert (settings.log_questions, settings.log_retention_days, settings.rate_limit_per_minute) == (False, 7, 0)
    assert settings.rate_limit_loopback and settings.admin_token == "x" * 16


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QA_LOG_QUESTIONS": "maybe"}, "QA_LOG_QUESTIONS='maybe' 不是有效的开关值"),
        ({"QA_LOG_RETENTION_DAYS": "-1"}, "QA_LOG_RETENTION_DAYS 不能是负数"),
        ({"QA_RATE_LIMIT_PER_MINUTE": "-5"}, "QA_RATE_LIMIT_PER_MINUTE 不能是负数"),
        ({"QA_ADMIN_TOKEN": "short"}, "QA_ADMIN_TOKEN 太短"),
        ({"QA_TOP_K": "0"}, "QA_TOP_K 必须是正整数"),
    ],
)
def test_bad_staff_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


# ---------------------------------------------------------------- with the real model


@pytest.mark.model
def test_no_progress_bar_when_the_output_is_not_a_terminal(real_settings: Settings, real_service: QAService) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(PROJECT_ROOT)}
    env.update({"QA_INDEX_DIR": str(real_settings.index_dir), "QA_CACHE_DIR": str(real_settings.cache_dir)})
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", ANSWERED], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "it/s" not in done.stderr
    assert done.stdout.startswith(f"问：{ANSWERED}")


# ---------------------------------------------------------------- qa serve --workers


def test_serve_with_workers_checks_once_then_hands_the_settings_to_each_worker(
    hash_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    for name in ("QA_MODEL", "QA_INDEX_DIR", "QA_CORPUS_DIR"):
        monkeypatch.setenv(name, "")  # empty is unset; the command's own settings are undone after the test
    monkeypatch.setenv("QA_DB_PATH", str(tmp_path / "qa.sqlite3"))
    assert main(["serve", "--workers", "2", "--model", "hash", "--index", str(hash_settings.index_dir)]) == 0
    ((args, kwargs),) = calls
    assert args == ("web.serve:app_from_env",)
    assert kwargs["factory"] is True and kwargs["workers"] == 2 and kwargs["access_log"] is False
    assert kwargs["timeout_worker_healthcheck"] >= 60
    assert kwargs["log_config"]["formatters"]["json"]
    assert "2 个进程" in capsys.readouterr().err
    # What each worker builds: the app from the environment the command set.
    from web.serve import app_from_env

    settings = app_from_env().state.settings
    assert (settings.model, settings.index_dir) == ("hash", hash_settings.index_dir)


def test_serve_with_workers_reports_a_corpus_that_cannot_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("the server started"))
    monkeypatch.setenv("QA_DB_PATH", str(tmp_path / "qa.sqlite3"))
    (tmp_path / "empty").mkdir()
    argv = ["serve", "--workers", "2", "--model", "hash", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "index")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("错误：") and err.count("\n") == 1
