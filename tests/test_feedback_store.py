"""The question log and feedback database: schema and migrations, records, review groups, retention, export, concurrency."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from qa.feedback import MIGRATIONS, FeedbackError, FeedbackStore, StoreError, question_key
from qa.service import QAService
from qa.settings import PROJECT_ROOT
from qa.types import Answer

ANSWERED = "新兴产业包括哪些领域？"
REFUSED = "有补贴吗"


class Clock:
    """A settable clock for the store."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    opened = FeedbackStore(tmp_path / "data" / "qa.sqlite3")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def answered(hash_service: QAService) -> Answer:
    return hash_service.ask(ANSWERED)


@pytest.fixture(scope="module")
def refused(hash_service: QAService) -> Answer:
    answer = hash_service.ask(REFUSED)
    assert not answer.found
    return answer


# ---------------------------------------------------------------- schema


def test_schema_is_created_in_wal_mode(store: FeedbackStore) -> None:
    assert store.path.is_file()
    assert store.schema_version == len(MIGRATIONS)
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"questions", "feedback", "golden_added"} <= tables
    conn.close()


def test_an_older_database_is_migrated_and_keeps_its_rows(tmp_path: Path, answered: Answer) -> None:
    path = tmp_path / "qa.sqlite3"
    old = FeedbackStore(path)
    answer_id = old.record_question(ANSWERED, answered)
    old.close()
    newer = (*MIGRATIONS, ("ALTER TABLE feedback ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0",))
    upgraded = FeedbackStore(path, migrations=newer)
    assert upgraded.schema_version == len(newer)
    assert upgraded.question(answer_id) is not None
    conn = sqlite3.connect(path)
    assert "reviewed" in [row[1] for row in conn.execute("PRAGMA table_info(feedback)")]
    conn.close()
    upgraded.close()
    # Opening it again runs nothing twice.
    again = FeedbackStore(path, migrations=newer)
    assert again.schema_version == len(newer)
    again.close()


def test_a_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    FeedbackStore(path, migrations=(*MIGRATIONS, ("CREATE TABLE later (x)",))).close()
    with pytest.raises(StoreError, match="更新版本的程序"):
        FeedbackStore(path)


def test_a_folder_or_unwritable_place_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(StoreError, match="是一个文件夹"):
        FeedbackStore(tmp_path / "folder")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="无法创建数据库文件夹"):
        FeedbackStore(tmp_path / "file" / "qa.sqlite3")


# ---------------------------------------------------------------- records


def test_a_logged_question_keeps_its_answer_passages_and_index_version(store: FeedbackStore, answered: Answer) -> None:
    answer_id = store.record_question("那新兴产业呢？", answered, interpreted=ANSWERED, index_version="abc123", channel="page")
    record = store.question(answer_id)
    assert record is not None
    assert (record.question, record.interpreted, record.asked_as) == ("那新兴产业呢？", ANSWERED, ANSWERED)
    assert record.answer == answered.answer and record.found and record.answer_type == answered.answer_type
    assert record.index_version == "abc123" and record.channel == "page" and record.scope is None
    assert record.latency_ms == pytest.approx(answered.latency_ms, abs=0.01)
    assert [(p.doc_id, p.start, p.end, p.text) for p in record.passages] == [
        (p.chunk.doc_id, p.chunk.start, p.chunk.end, p.chunk.text) for p in answered.passages
    ]
    assert all(p.title for p in record.passages)
    assert store.question("no-such-id") is None


def test_the_scope_of_a_question_is_kept(store: FeedbackStore, answered: Answer) -> None:
    answer_id = store.record_question(ANSWERED, answered, scope=["miit-2023-118"])
    record = store.question(answer_id)
    assert record is not None and record.scope == ("miit-2023-118",)


def test_feedback_names_a_logged_answer_or_brings_its_own(store: FeedbackStore, answered: Answer) -> None:
    answer_id = store.record_question(ANSWERED, answered)
    by_id = store.feedback_row(store.record_feedback(False, "  不完整  ", answer_id=answer_id))
    assert by_id is not None
    assert (by_id.answer_id, by_id.question, by_id.answer, by_id.found) == (answer_id, ANSWERED, answered.answer, True)
    assert (by_id.useful, by_id.comment) == (False, "不完整")
    sent = store.feedback_row(store.record_feedback(True, question="问题？", answer="回答"))
    assert sent is not None and (sent.answer_id, sent.question, sent.answer, sent.found, sent.useful) == (None, "问题？", "回答", None, True)
    # An id the log no longer has still takes the question and answer sent with it.
    kept = store.feedback_row(store.record_feedback(False, answer_id="gone", question="问题？", answer="回答"))
    assert kept is not None and kept.answer_id is None and kept.question == "问题？"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "请提供回答编号"),
        ({"answer_id": "unknown"}, "没有找到这个回答"),
        ({"question": "问题", "answer": None}, "请提供回答编号"),
        ({"question": "问题", "answer": "回答", "comment": "长" * 501}, "意见太长（501字）"),
    ],
)
def test_feedback_without_an_answer_or_with_a_long_comment_is_refused(store: FeedbackStore, kwargs: dict, message: str) -> None:
    with pytest.raises(FeedbackError, match=message):
        store.record_feedback(False, **kwargs)
    assert store.counts()["feedback"] == 0


def test_question_key_ignores_closing_punctuation_width_and_script() -> None:
    assert question_key("未来产业有哪些？") == question_key("未来产业有哪些") == question_key("未來產業有哪些?")


# ---------------------------------------------------------------- review


def test_refused_questions_are_grouped_and_sorted(tmp_path: Path, refused: Answer) -> None:
    clock = Clock()
    store = FeedbackStore(tmp_path / "qa.sqlite3", clock=clock)
    for text in ("有补贴吗", "有补贴吗？", "有補貼嗎?"):
        store.record_question(text, refused)
        clock.now += timedelta(minutes=1)
    store.record_question("企业怎么申请资金？", refused)
    frequent = store.review("refused", "frequent")
    assert [(item.key, item.count) for item in frequent] == [(question_key("有补贴吗"), 3), (question_key("企业怎么申请资金"), 1)]
    assert frequent[0].question == "有補貼嗎?"  # the latest wording
    recent = store.review("refused", "recent")
    assert [item.key for item in recent] == [question_key("企业怎么申请资金"), question_key("有补贴吗")]
    store.mark_golden(question_key("有补贴吗"), "staff-1")
    assert [item.key for item in store.review("refused")] == [question_key("企业怎么申请资金")]
    assert store.golden_id(question_key("有补贴吗？")) == "staff-1"
    store.close()


def test_answers_marked_not_useful_are_grouped_with_their_comments(store: FeedbackStore, answered: Answer) -> None:
    answer_id = store.record_question(ANSWERED, answered)
    store.record_feedback(False, "少了民用航空", answer_id=answer_id)
    store.record_feedback(False, "", answer_id=answer_id)
    store.record_feedback(True, "很好", answer_id=answer_id)
    items = store.review("not_useful")
    assert len(items) == 1
    assert (items[0].question, items[0].count, items[0].comments) == (ANSWERED, 2, ("少了民用航空",))
    assert items[0].answer == answered.answer


# ---------------------------------------------------------------- retention


def test_old_questions_are_pruned_unless_feedback_names_them(tmp_path: Path, answered: Answer) -> None:
    clock = Clock()
    store = FeedbackStore(tmp_path / "qa.sqlite3", retention_days=30, clock=clock)
    old = store.record_question("旧问题", answered)
    cited = store.record_question("旧问题，有反馈", answered)
    store.record_feedback(False, answer_id=cited)
    clock.now += timedelta(days=31)
    recent = store.record_question("新问题", answered)
    assert store.prune() == 1
    assert store.question(old) is None
    assert store.question(cited) is not None and store.question(recent) is not None
    store.close()
    # Opening prunes too; 0 days keeps everything.
    clock.now += timedelta(days=365)
    for days, kept in ((0, 2), (30, 1)):
        reopened = FeedbackStore(tmp_path / "qa.sqlite3", retention_days=days, clock=clock)
        assert reopened.counts()["questions"] == kept
        reopened.close()


# ---------------------------------------------------------------- export


def test_export_is_csv_with_chinese_headers_and_no_formulas(store: FeedbackStore, answered: Answer) -> None:
    answer_id = store.record_question(ANSWERED, answered)
    store.record_feedback(False, "=HYPERLINK(\"http://x\")", answer_id=answer_id)
    rows = list(csv.reader(io.StringIO(store.export_csv("feedback"))))
    assert rows[0] == ["反馈时间", "问题", "回答", "是否找到答案", "评价", "意见", "回答编号"]
    assert rows[1][1:6] == [ANSWERED, answered.answer, "是", "没用", "'=HYPERLINK(\"http://x\")"]
    log = list(csv.reader(io.StringIO(store.export_csv("questions"))))
    assert log[0][:3] == ["提问时间", "问题", "理解为"] and log[1][1] == ANSWERED and log[1][5] == "全部文件"


# ---------------------------------------------------------------- concurrency and crashes


def test_many_threads_write_at_once_without_errors(tmp_path: Path, answered: Answer) -> None:
    path = tmp_path / "qa.sqlite3"
    stores = [FeedbackStore(path), FeedbackStore(path)]  # two stores: like two server workers
    errors: list[BaseException] = []
    threads_n, per_thread = 8, 25

    def work(n: int) -> None:
        try:
            store = stores[n % 2]
            for i in range(per_thread):
                answer_id = store.record_question(f"问题{n}-{i}", answered)
                store.record_feedback(i % 2 == 0, answer_id=answer_id)
        except BaseException as exc:  # noqa: BLE001 - every failure is counted
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stores[0].counts() == {"questions": threads_n * per_thread, "feedback": threads_n * per_thread, "golden_added": 0}
    for store in stores:
        store.close()


CRASHING_WRITER = """
import sys
from qa.feedback import FeedbackStore
from qa.types import Answer
store = FeedbackStore(sys.argv[1])
answer = Answer(question="问", found=False, answer="未找到", answer_type="none")
for n in range(100000):
    store.record_question(f"问题{n}", answer)
    print(n, flush=True)
"""


def test_a_killed_writer_loses_at_most_the_write_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert writer.stdout is not None
    acknowledged = 0
    for _ in writer.stdout:
        acknowledged += 1
        if acknowledged == 200:
            break
    writer.kill()
    writer.wait()
    writer.stdout.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    reopened = FeedbackStore(path)
    rows = reopened.counts()["questions"]
    reopened.close()
    assert acknowledged <= rows  # every write the writer saw committed is there
