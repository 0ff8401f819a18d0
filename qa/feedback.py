"""The question log and feedback: one SQLite file (WAL mode), its schema created and migrated here.

Per question: what was sent and what was answered, the answer, whether it was refused, the
documents in scope, the index version, the passages retrieved and the latency. Per feedback:
the answer it is about, 有用 or 没用, and an optional comment. Nothing about the person (no
address, no cookie, no account) is stored.

Each thread gets its own connection (SQLite serialises the writers, WAL lets readers run
beside them), and every write is one short transaction committed before the request answers,
so a crash loses at most the request in flight.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from qa.errors import QAError
from qa.text.normalize import normalize
from qa.types import Answer

MAX_COMMENT_CHARS = 500
MAX_ANSWER_CHARS = 5000  # an answer sent back with feedback (question log off) is cut to this
PRUNE_EVERY_SECONDS = 3600.0  # the question log is pruned on opening, then at most this often
BUSY_TIMEOUT_MS = 10_000  # another process (worker) holding the write lock: wait this long

ReviewKind = Literal["refused", "not_useful"]
ReviewSort = Literal["frequent", "recent"]
REVIEW_SORTS: tuple[ReviewSort, ...] = ("frequent", "recent")

# The schema, one entry per version (PRAGMA user_version counts the entries applied).
# Append a new entry to change it; never edit an entry a database may already have run.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            answer_id TEXT NOT NULL UNIQUE,
            asked_at TEXT NOT NULL,
            question TEXT NOT NULL,
            interpreted TEXT NOT NULL DEFAULT '',
            question_key TEXT NOT NULL,
            answer TEXT NOT NULL,
            answer_type TEXT NOT NULL,
            found INTEGER NOT NULL,
            scope TEXT,
            index_version TEXT NOT NULL,
            passages TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            channel TEXT NOT NULL
        )""",
        "CREATE INDEX questions_asked_at ON questions(asked_at)",
        "CREATE INDEX questions_refused ON questions(found, question_key)",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            answer_id TEXT,
            question TEXT NOT NULL,
            question_key TEXT NOT NULL,
            answer TEXT NOT NULL,
            found INTEGER,
            useful INTEGER NOT NULL,
            comment TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX feedback_useful ON feedback(useful, question_key)",
        "CREATE INDEX feedback_answer ON feedback(answer_id)",
        """CREATE TABLE golden_added (
            question_key TEXT PRIMARY KEY,
            golden_id TEXT NOT NULL,
            added_at TEXT NOT NULL
        )""",
    ),
)


class StoreError(QAError):
    """The question and feedback database cannot be opened, read or written."""


class FeedbackError(QAError):
    """Feedback that cannot be stored: no answer named, an unknown answer id, a comment too long."""


class UnknownAnswerError(FeedbackError):
    """Feedback names an answer id the log does not hold, and brings no question and answer of its own."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: datetime) -> str:
    """UTC, to the second, sortable as text: 2024-05-01T08:30:00Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def question_key(text: str) -> str:
    """What makes two questions the same question: normalised, without closing punctuation."""
    return normalize(text).rstrip("?？!！.。,，、;；~～")


@dataclass(frozen=True)
class LoggedPassage:
    """A passage as it was retrieved for a logged question (its text kept: documents change)."""

    doc_id: str
    title: str
    section: str
    start: int
    end: int
    score: float
    text: str


@dataclass(frozen=True)
class QuestionRecord:
    """One row of the question log."""

    row_id: int
    answer_id: str
    asked_at: str
    question: str
    interpreted: str
    answer: str
    answer_type: str
    found: bool
    scope: tuple[str, ...] | None  # None: the whole library of that index version
    index_version: str
    passages: tuple[LoggedPassage, ...]
    latency_ms: float
    channel: str

    @property
    def asked_as(self) -> str:
        """The self-contained question that was answered."""
        return self.interpreted or self.question


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback row."""

    row_id: int
    created_at: str
    answer_id: str | None
    question: str
    answer: str
    found: bool | None
    useful: bool
    comment: str


@dataclass(frozen=True)
class ReviewItem:
    """A group of refused questions, or of answers marked 没用, that are the same question."""

    kind: ReviewKind
    ref: int  # the latest row of the group: a question row (refused) or a feedback row (not useful)
    key: str
    question: str
    answer: str
    count: int
    last_at: str
    comments: tuple[str, ...] = ()


def _passages_json(answer: Answer) -> str:
    rows = [
        {
            "doc_id": p.chunk.doc_id,
            "title": p.title,
            "section": p.chunk.section,
            "start": p.chunk.start,
            "end": p.chunk.end,
            "score": round(p.score, 6),
            "text": p.chunk.text,
        }
        for p in answer.passages
    ]
    return json.dumps(rows, ensure_ascii=False)


def _passages_from_json(raw: str) -> tuple[LoggedPassage, ...]:
    try:
        rows = json.loads(raw)
        return tuple(
            LoggedPassage(
                str(r["doc_id"]), str(r.get("title", "")), str(r["section"]), int(r["start"]), int(r["end"]),
                float(r["score"]), str(r["text"]),
            )
            for r in rows
        )
    except (ValueError, KeyError, TypeError):  # a damaged cell hides its passages, not the row
        return ()


def _scope_from_json(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    try:
        return tuple(str(d) for d in json.loads(raw))
    except (ValueError, TypeError):
        return None


class FeedbackStore:
    """The question log and feedback in one SQLite file; safe to use from many threads and processes."""

    def __init__(
        self, path: Path, retention_days: int = 90, clock: Callable[[], datetime] = utc_now, migrations: Sequence[Sequence[str]] = MIGRATIONS
    ) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.clock = clock
        self.migrations = migrations
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last_prune = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"无法创建数据库文件夹 {self.path.parent}：{exc.strerror or exc}") from None
        with self._errors("打开"):
            conn = self._connection()
            conn.execute("PRAGMA journal_mode=WAL")
            self._migrate(conn)
        self.prune()

    # -------------------------------------------------------------- connections and schema

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """sqlite3 errors as one Chinese StoreError line naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"无法{doing}数据库 {self.path}：{exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.path.is_dir():
                raise StoreError(f"数据库路径 {self.path} 是一个文件夹，请在 QA_DB_PATH 中指定一个文件")
            # One connection per thread; check_same_thread off only so that close() can run anywhere.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # In WAL mode NORMAL keeps every committed write through a crash of the process;
            # only a power cut can take back the last commits, never corrupt the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the schema to the latest version, once, even with several processes starting together."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(self.migrations):
                raise StoreError(
                    f"数据库 {self.path} 由更新版本的程序创建（结构版本 {version}，本程序只认识到 {len(self.migrations)}），请升级程序"
                )
            for number, statements in enumerate(self.migrations[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._errors("读取"):
            return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every thread's connection (the WAL is checkpointed into the main file)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -------------------------------------------------------------- writing

    def record_question(
        self,
        question: str,
        answer: Answer,
        interpreted: str = "",
        index_version: str = "",
        scope: Sequence[str] | None = None,
        channel: str = "api",
    ) -> str:
        """Log one answered question; returns the answer id that feedback can name."""
        answer_id = secrets.token_hex(8)
        asked = interpreted or question
        with self._errors("写入"):
            self._connection().execute(
                "INSERT INTO questions (answer_id, asked_at, question, interpreted, question_key, answer, answer_type,"
                " found, scope, index_version, passages, latency_ms, channel) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    answer_id,
                    timestamp(self.clock()),
                    question,
                    interpreted,
                    question_key(asked),
                    answer.answer,
                    answer.answer_type,
                    int(answer.found),
                    None if scope is None else json.dumps(list(scope), ensure_ascii=False),
                    index_version,
                    _passages_json(answer),
                    round(answer.latency_ms, 2),
                    channel,
                ),
            )
        if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
            self.prune()
        return answer_id

    def record_feedback(
        self,
        useful: bool,
        comment: str = "",
        answer_id: str | None = None,
        question: str | None = None,
        answer: str | None = None,
    ) -> int:
        """Store 有用/没用 about a logged answer (by id), or about a question and answer sent with it."""
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise FeedbackError(f"意见太长（{len(comment)}字），请控制在{MAX_COMMENT_CHARS}字以内。")
        logged = self.question(answer_id) if answer_id else None
        if logged is not None:
            asked, answered, found = logged.asked_as, logged.answer, logged.found
        elif question and question.strip() and answer is not None:
            asked, answered, found = question.strip(), answer[:MAX_ANSWER_CHARS], None
        elif answer_id:
            raise UnknownAnswerError("没有找到这个回答（answer_id），请同时提供问题（question）和回答（answer）。")
        else:
            raise FeedbackError("请提供回答编号（answer_id），或者问题（question）和回答（answer）。")
        with self._errors("写入"):
            cursor = self._connection().execute(
                "INSERT INTO feedback (created_at, answer_id, question, question_key, answer, found, useful, comment)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    timestamp(self.clock()),
                    logged.answer_id if logged else None,
                    asked,
                    question_key(asked),
                    answered,
                    None if found is None else int(found),
                    int(useful),
                    comment,
                ),
            )
            return int(cursor.lastrowid or 0)

    def mark_golden(self, key: str, golden_id: str) -> None:
        """Remember that this question became a golden question: it leaves the review lists."""
        with self._errors("写入"):
            self._connection().execute(
                "INSERT OR REPLACE INTO golden_added (question_key, golden_id, added_at) VALUES (?,?,?)",
                (key, golden_id, timestamp(self.clock())),
            )

    def prune(self) -> int:
        """Delete logged questions older than the retention (those that feedback names are kept)."""
        self._last_prune = time.monotonic()
        if not self.retention_days:
            return 0
        cutoff = timestamp(self.clock() - timedelta(days=self.retention_days))
        with self._errors("清理"):
            cursor = self._connection().execute(
                "DELETE FROM questions WHERE asked_at < ?"
                " AND answer_id NOT IN (SELECT answer_id FROM feedback WHERE answer_id IS NOT NULL)",
                (cutoff,),
            )
            return cursor.rowcount

    # -------------------------------------------------------------- reading

    def question(self, answer_id: str | None) -> QuestionRecord | None:
        if not answer_id:
            return None
        return self._one_question("answer_id = ?", answer_id)

    def question_row(self, row_id: int) -> QuestionRecord | None:
        return self._one_question("id = ?", row_id)

    def _one_question(self, where: str, value: object) -> QuestionRecord | None:
        with self._errors("读取"):
            row = self._connection().execute(f"SELECT {_QUESTION_COLUMNS} FROM questions WHERE {where}", (value,)).fetchone()
        return _question_record(row) if row else None

    def questions(self, limit: int | None = None) -> list[QuestionRecord]:
        """The question log, oldest first."""
        with self._errors("读取"):
            rows = self._connection().execute(
                f"SELECT {_QUESTION_COLUMNS} FROM questions ORDER BY id LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [_question_record(r) for r in rows]

    def feedback_row(self, row_id: int) -> FeedbackRecord | None:
        with self._errors("读取"):
            row = self._connection().execute(f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE id = ?", (row_id,)).fetchone()
        return _feedback_record(row) if row else None

    def feedback(self, limit: int | None = None) -> list[FeedbackRecord]:
        """Every feedback row, oldest first."""
        with self._errors("读取"):
            rows = self._connection().execute(
                f"SELECT {_FEEDBACK_COLUMNS} FROM feedback ORDER BY id LIMIT ?", (-1 if limit is None else limit,)
            ).fetchall()
        return [_feedback_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._errors("读取"):
            conn = self._connection()
            return {
                "questions": conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0],
                "feedback": conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0],
                "golden_added": conn.execute("SELECT COUNT(*) FROM golden_added").fetchone()[0],
            }

    def golden_id(self, key: str) -> str | None:
        with self._errors("读取"):
            row = self._connection().execute("SELECT golden_id FROM golden_added WHERE question_key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def review(self, kind: ReviewKind, sort: ReviewSort = "frequent", limit: int = 50) -> list[ReviewItem]:
        """Refused questions, or answers marked 没用, grouped by question, not yet made golden questions."""
        table, when, condition = (
            ("questions", "asked_at", "found = 0") if kind == "refused" else ("feedback", "created_at", "useful = 0")
        )
        order = "n DESC, last_at DESC, ref DESC" if sort == "frequent" else "last_at DESC, ref DESC"
        with self._errors("读取"):
            conn = self._connection()
            groups = conn.execute(
                f"SELECT question_key, COUNT(*) AS n, MAX({when}) AS last_at, MAX(id) AS ref FROM {table}"
                f" WHERE {condition} AND question_key NOT IN (SELECT question_key FROM golden_added)"
                f" GROUP BY question_key ORDER BY {order} LIMIT ?",
                (limit,),
            ).fetchall()
            items = []
            for key, count, last_at, ref in groups:
                if kind == "refused":
                    question, interpreted, answer = conn.execute(
                        "SELECT question, interpreted, answer FROM questions WHERE id = ?", (ref,)
                    ).fetchone()
                    question = interpreted or question
                    comments: tuple[str, ...] = ()
                else:
                    question, answer = conn.execute("SELECT question, answer FROM feedback WHERE id = ?", (ref,)).fetchone()
                    comments = tuple(
                        c
                        for (c,) in conn.execute(
                            "SELECT comment FROM feedback WHERE useful = 0 AND question_key = ? AND comment != ''"
                            " ORDER BY id DESC LIMIT 5",
                            (key,),
                        )
                    )
                items.append(ReviewItem(kind, int(ref), key, question, answer, int(count), last_at, comments))
        return items

    # -------------------------------------------------------------- export

    def export_csv(self, what: Literal["feedback", "questions"] = "feedback") -> str:
        """The feedback (or the question log) as CSV text with a Chinese header row, oldest first."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if what == "feedback":
            writer.writerow(["反馈时间", "问题", "回答", "是否找到答案", "评价", "意见", "回答编号"])
            for f in self.feedback():
                found = "" if f.found is None else ("是" if f.found else "否")
                writer.writerow(_cells([f.created_at, f.question, f.answer, found, "有用" if f.useful else "没用", f.comment, f.answer_id or ""]))
        else:
            writer.writerow(["提问时间", "问题", "理解为", "回答", "是否找到答案", "文件范围", "索引版本", "耗时（毫秒）", "渠道", "回答编号"])
            for q in self.questions():
                scope = "全部文件" if q.scope is None else "、".join(q.scope)
                writer.writerow(
                    _cells(
                        [q.asked_at, q.question, q.interpreted, q.answer, "是" if q.found else "否", scope, q.index_version,
                         f"{q.latency_ms:.0f}", q.channel, q.answer_id]
                    )
                )
        return out.getvalue()


def _cells(values: Iterable[str]) -> list[str]:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is quoted with an apostrophe."""
    return [f"'{v}" if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in values]


_QUESTION_COLUMNS = (
    "id, answer_id, asked_at, question, interpreted, answer, answer_type, found, scope, index_version, passages, latency_ms, channel"
)
_FEEDBACK_COLUMNS = "id, created_at, answer_id, question, answer, found, useful, comment"


def _question_record(row: tuple) -> QuestionRecord:
    return QuestionRecord(
        row_id=row[0],
        answer_id=row[1],
        asked_at=row[2],
        question=row[3],
        interpreted=row[4],
        answer=row[5],
        answer_type=row[6],
        found=bool(row[7]),
        scope=_scope_from_json(row[8]),
        index_version=row[9],
        passages=_passages_from_json(row[10]),
        latency_ms=row[11],
        channel=row[12],
    )


def _feedback_record(row: tuple) -> FeedbackRecord:
    return FeedbackRecord(
        row_id=row[0],
        created_at=row[1],
        answer_id=row[2],
        question=row[3],
        answer=row[4],
        found=None if row[5] is None else bool(row[5]),
        useful=bool(row[6]),
        comment=row[7],
    )
