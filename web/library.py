"""The library in the web app: the list of documents, their original files, staff uploads, and hot reload.

`IndexWatcher` looks (at most every `index_check_seconds`) whether the `index` link points
at another version, loads that version in a thread of its own and then replaces the app's
one service reference: a request holds the service it started with to its end, so it never
mixes two indexes, and no request waits for the load. `LibraryBuilder` builds the index in
the background after an upload, one build at a time (an upload during a build gets one more
build after it). Uploads are staff-only: with `QA_ADMIN_TOKEN` unset they are switched off,
so a public deployment is read-only.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from qa.errors import QAError
from qa.library import ACCEPTED, Added, add_bytes
from qa.retrieve.index import check_compatible, load_index
from qa.service import QAService, ensure_index
from qa.settings import Settings
from qa.types import Document
from web.app import ServiceDep, render
from web.limits import upload_too_large_message
from web.staff import form_key, review_access, staff_access

logger = logging.getLogger(__name__)

UPLOAD_PAGE = "/review/upload"
UPLOAD_API = "/api/documents"
UPLOAD_OFF = "上传文件功能未开启：请在服务器上设置 QA_ADMIN_TOKEN（至少16个字符）后重启服务。"


# ---------------------------------------------------------------------------------------------
# Hot reload


class IndexWatcher:
    """Swaps in a service over a newly published index, loaded off the request path."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.target = self.link_target()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._loading = False
        self.swaps = 0

    def link_target(self) -> str:
        return os.path.realpath(self.settings.index_dir)

    def poll(self) -> None:
        """Cheap, on every request: at most once per interval, one readlink; a changed link starts a load."""
        now = time.monotonic()
        if now - self._checked < self.settings.index_check_seconds:
            return
        self._checked = now
        if self.link_target() != self.target:
            self.check(wait=False)

    def check(self, wait: bool = True) -> None:
        """Load the linked index if it is not the one served (in this thread when `wait`, else in a new one)."""
        target = self.link_target()
        with self._lock:
            if target == self.target or self._loading:
                return
            self._loading = True
        if wait:
            self._load(target)
        else:
            threading.Thread(target=self._load, args=(target,), name="index-reload", daemon=True).start()

    def _load(self, target: str) -> None:
        try:
            current: QAService | None = self.app.state.service
            if current is None:
                return
            index = load_index(Path(target))
            check_compatible(index.manifest, current.embedder)
            fresh = QAService(current.settings, current.embedder, index, current.weights)
            self.app.state.service = fresh  # one reference replaced: the next request sees the new index whole
            self.swaps += 1
            logger.info("已换用新索引：%s（%d 份文件）", target, len(index.documents))
        except QAError as exc:
            logger.warning("新索引无法使用，继续使用原索引：%s", exc)
        except Exception:
            logger.exception("加载新索引时出错，继续使用原索引")
        finally:
            with self._lock:
                self.target = target  # a version that cannot load is not tried again every second
                self._loading = False


# ---------------------------------------------------------------------------------------------
# Background builds after an upload


@dataclass
class BuildStatus:
    state: str = "idle"  # idle, building, done, failed
    message: str = ""
    files: list[str] = field(default_factory=list)
    finished_at: str = ""

    def label(self) -> str:
        return {"idle": "", "building": "正在更新索引……", "done": "索引已更新", "failed": "索引更新失败"}[self.state]

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "label": self.label(), "message": self.message, "files": self.files, "finished_at": self.finished_at}


class LibraryBuilder:
    """One background build at a time; files uploaded meanwhile get one more build after it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.status = BuildStatus()
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._files: list[str] = []
        self._thread: threading.Thread | None = None

    def request(self, file_name: str) -> None:
        with self._lock:
            self._files.append(file_name)
            self.status = BuildStatus("building", "", list(self._files))
            if self._running:
                self._again = True
                return
            self._running = True
            self._thread = threading.Thread(target=self._run, name="library-build", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 60) -> None:
        """Until the current build (and any queued after it) is done (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._again = False
                files = list(self._files)
            lines: list[str] = []
            try:
                service: QAService = self.app.state.service
                ensure_index(service.settings, service.embedder, force=True, report=lines.append)
                self.app.state.watcher.check(wait=True)  # served at once, not at the next request
                state, message = "done", "；".join(lines)
            except QAError as exc:
                state, message = "failed", str(exc)
            except Exception:
                logger.exception("上传后建立索引失败")
                state, message = "failed", "建立索引时出错，请查看服务器日志。"
            with self._lock:
                if self._again:
                    continue
                self._files = []
                self.status = BuildStatus(state, message, files, time.strftime("%H:%M:%S"))
                self._running = False
                return


# ---------------------------------------------------------------------------------------------
# What the library covers


_KINDS = ("条例", "规定", "办法", "细则", "规划", "方案", "意见", "措施", "通知", "决定", "公告", "指南", "标准")


def document_kind(title: str) -> str:
    """The kind of a document from the end of its title: 条例, 办法, 方案, 通知 …"""
    hits = [(title.rfind(kind), kind) for kind in _KINDS if kind in title]
    return max(hits)[1] if hits else "文件"


def library_summary(documents: Iterable[Document]) -> str:
    """One line: how many documents, of which kinds, from which issuers."""
    docs = list(documents)
    if not docs:
        return "文档库中还没有文件。"
    kinds = Counter(document_kind(d.title) for d in docs)
    issuers = Counter(i for d in docs for i in d.issuers[:1])
    kind_text = "、".join(f"{kind}{n}份" for kind, n in kinds.most_common(4))
    line = f"收录 {len(docs)} 份政策文件（{kind_text}{'等' if len(kinds) > 4 else ''}）"
    if issuers:
        named = "、".join(name for name, _ in issuers.most_common(3))
        line += f"，发文单位包括{named}{'等' if len(issuers) > 3 else ''}"
    return line + "。"


def passages_per_document(service: QAService) -> Counter[str]:
    return Counter(c.doc_id for c in service.index.chunks)


# ---------------------------------------------------------------------------------------------
# Routes

pages = APIRouter(include_in_schema=False)
api = APIRouter(tags=["api"])


@pages.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """Every document of the library: title, 文号, issuer, date, passages, and how to ask within it."""
    counts = passages_per_document(service)
    context = {
        "documents": list(service.index.documents.values()),
        "counts": counts,
        "summary": library_summary(service.index.documents.values()),
        "skipped": service.index.manifest.skipped,
    }
    return render(request, "documents.html", context)


# Formats a browser could run or render as a page of this site: always downloaded, never shown inline.
_DOWNLOAD_ONLY = {".html", ".htm", ".txt", ".text", ".md", ".markdown", ".docx"}


@pages.get("/documents/{doc_id}/file")
def original_file(doc_id: str, service: ServiceDep) -> Response:
    """The file a document was read from, served only from the corpus folder and only for a document of the library."""
    document = service.index.documents.get(doc_id)
    if document is None or not document.source_file:
        raise HTTPException(status_code=404, detail=f"没有找到编号为“{doc_id}”的文件。")
    folder = service.settings.corpus_dir.resolve()
    path = (folder / document.source_file).resolve()
    if not path.is_relative_to(folder) or path.parent != folder or not path.is_file():
        raise HTTPException(status_code=404, detail=f"文件 {document.source_file} 已不在文档库中。")
    inline = path.suffix.lower() not in _DOWNLOAD_ONLY
    return FileResponse(
        path,
        filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"},
    )


def upload_access(request: Request) -> str:
    """Who may upload: 403 when uploads are off (no admin token), the login form when not signed in."""
    return staff_access(request, off_detail=UPLOAD_OFF)


def upload_context(request: Request, message: str = "", error: str = "") -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    builder: LibraryBuilder = request.app.state.builder
    return {
        "status": builder.status,
        "message": message,
        "error": error,
        "form_key": form_key(settings),
        "accepted": "、".join(ACCEPTED),
        "accept_attr": ",".join(ACCEPTED),
        "max_mb": f"{settings.max_upload_bytes / 1_000_000:g}",
    }


@pages.get(UPLOAD_PAGE, response_class=HTMLResponse)
def upload_page(request: Request, access: Annotated[str, Depends(upload_access)]) -> HTMLResponse:
    """The staff page to add a document, showing the state of the last build."""
    return render(request, "upload.html", upload_context(request))


async def read_upload(request: Request) -> tuple[str, bytes, dict[str, str]]:
    """The multipart form's file (name, bytes) and its other fields; HTTPException in Chinese otherwise."""
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(status_code=400, detail="请以 multipart/form-data 表单上传文件（字段名 file）。")
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=settings.max_upload_bytes + 1)
    except HTTPException:
        raise
    except Exception:  # a malformed body: the parser's own English message stays out of the answer
        raise HTTPException(status_code=400, detail="上传的内容无法解析，请重新选择文件上传。") from None
    try:
        upload = form.get("file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(status_code=400, detail="请选择要上传的文件（字段名 file）。")
        data = await upload.read(settings.max_upload_bytes + 1)
    finally:
        await form.close()  # the parser's temporary files
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(status_code=413, detail=upload_too_large_message(settings.max_upload_bytes))
    return upload.filename, data, fields


async def add_upload(request: Request, name: str, data: bytes, fields: dict[str, str]) -> Added:
    """Add the file to the library (the CLI's checks and messages) and start a build when it changed anything."""
    settings: Settings = request.app.state.settings
    replace = fields.get("replace", "") in ("1", "true", "on")
    added = await run_in_threadpool(add_bytes, settings.corpus_dir, name, data, replace)
    if added.outcome != "same":
        builder: LibraryBuilder = request.app.state.builder
        builder.request(added.name)
    return added


ADDED_WORDS = {"added": "已加入", "replaced": "已替换", "same": "已在文档库中（内容相同），无需更新"}


@pages.post(UPLOAD_PAGE, response_class=HTMLResponse)
async def upload_form(request: Request, access: Annotated[str, Depends(upload_access)]) -> Response:
    settings: Settings = request.app.state.settings
    try:
        name, data, fields = await read_upload(request)
        if access == "cookie" and not hmac.compare_digest(fields.get("form_key", "").encode(), form_key(settings).encode()):
            raise HTTPException(status_code=403, detail="表单已过期，请刷新页面后重新提交。")
        added = await add_upload(request, name, data, fields)
    except QAError as exc:
        return render(request, "upload.html", upload_context(request, error=str(exc)), status_code=400)
    except HTTPException as exc:
        return render(request, "upload.html", upload_context(request, error=str(exc.detail)), status_code=exc.status_code)
    return render(request, "upload.html", upload_context(request, message=f"{ADDED_WORDS[added.outcome]}：{added.name}"))


@api.post(
    UPLOAD_API,
    status_code=202,
    summary="上传一份文件（需要管理口令）",
    responses={401: {}, 403: {}, 400: {}, 413: {}},
)
async def api_upload(request: Request) -> JSONResponse:
    """Add a document (multipart field `file`, optional `replace=1`); the index is rebuilt in the background."""
    access = review_access(request)
    if access == "off":
        raise HTTPException(status_code=403, detail=UPLOAD_OFF)
    if access != "bearer":
        raise HTTPException(
            status_code=401, detail="需要管理口令：请在 Authorization 请求头中提供 Bearer 口令。", headers={"WWW-Authenticate": "Bearer"}
        )
    name, data, fields = await read_upload(request)
    added = await add_upload(request, name, data, fields)
    builder: LibraryBuilder = request.app.state.builder
    return JSONResponse(
        {"file": added.name, "doc_id": added.doc_id, "outcome": added.outcome, "message": f"{ADDED_WORDS[added.outcome]}：{added.name}", "build": builder.status.to_json()},
        status_code=202,
    )


@api.get("/api/build", summary="上传后建立索引的状态")
def api_build_status(request: Request) -> JSONResponse:
    builder: LibraryBuilder = request.app.state.builder
    return JSONResponse(builder.status.to_json())


def install_library(app: FastAPI, settings: Settings) -> None:
    app.state.watcher = IndexWatcher(app, settings)
    app.state.builder = LibraryBuilder(app)
    app.include_router(pages)
    app.include_router(api)
