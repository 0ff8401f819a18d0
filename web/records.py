"""What the web app keeps: the question log and feedback, through one store opened with the app.

Logging a question never fails an answer: a database that cannot be written is logged
server-side and the person still gets the answer (without a feedback id).
"""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from qa.feedback import FeedbackStore, StoreError
from qa.service import QAService
from qa.settings import Settings
from qa.types import Answer

logger = logging.getLogger(__name__)


class Records:
    """The app's store with the settings that govern it."""

    def __init__(self, settings: Settings, store: FeedbackStore) -> None:
        self.settings = settings
        self.store = store

    @classmethod
    def open(cls, settings: Settings) -> Records:
        """Open (create, migrate, prune) the database the settings name; StoreError when it cannot be."""
        return cls(settings, FeedbackStore(settings.database_path, settings.log_retention_days))

    def log_question(self, service: QAService, sent: str, resolved: str, answer: Answer, channel: str) -> str:
        """Log an answered question when the log is on; its answer id, or "" when not logged."""
        if not self.settings.log_questions:
            return ""
        sent = sent.strip()
        understood = answer.interpreted or resolved
        try:
            return self.store.record_question(
                sent,
                answer,
                interpreted=understood if understood != sent else "",
                index_version=service.index.manifest.corpus_fingerprint,
                channel=channel,
            )
        except StoreError:
            logger.exception("提问记录写入失败")
            return ""

    def close(self) -> None:
        self.store.close()


async def get_records(request: Request) -> Records:  # async: no worker thread for a lookup
    records: Records | None = getattr(request.app.state, "records", None)
    if records is None:
        raise HTTPException(status_code=503, detail="服务正在启动，请稍后再试。")
    return records
