"""Staff routes: 有用/没用 feedback on answers, and the review page that turns items into golden questions.

- `POST /api/feedback` (JSON) and `POST /feedback` (the small form under each answer, no
  JavaScript needed) store feedback about an answer, named by its answer id or by its
  question and answer.
- `/review` lists the most frequent refused questions and the answers marked 没用, newest or
  most frequent first; each item's page shows the passages retrieved for it and a form that
  appends a golden question to the staff golden file. The page needs QA_ADMIN_TOKEN: sent as
  `Authorization: Bearer …`, or typed once into the login form, which sets a cookie holding a
  keyed hash of it (never the token itself). Without the setting the page is switched off.

`install_staff(app, settings)` wires all of it into the app made by `web.app.create_app`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, StrictBool

from qa.errors import QAError
from qa.evaluate.evaluation import GoldenSetError
from qa.evaluate.staff_golden import append_golden, new_golden_question, split_facts
from qa.feedback import (
    MAX_COMMENT_CHARS,
    REVIEW_SORTS,
    FeedbackError,
    LoggedPassage,
    ReviewKind,
    StoreError,
    UnknownAnswerError,
    question_key,
)
from qa.service import QAService, shows_something, validate_question
from qa.settings import Settings
from web.accesslog import AccessLogMiddleware
from web.app import PREVIOUS_PATTERN, QUESTION_PATTERN, ErrorOut, ServiceDep, check_as_sent, render, safe_back_link
from web.ratelimit import RateLimiter, limit_rate
from web.records import Records, get_records

logger = logging.getLogger(__name__)

RecordsDep = Annotated[Records, Depends(get_records)]

SESSION_COOKIE = "qa_review"
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 64 * 1024  # the largest form accepted (a golden question with its facts)
REVIEW_LIMIT = 50  # items per list on the review page
STORE_UNAVAILABLE = "暂时无法保存，请稍后再试。"
REVIEW_OFF = "审核页面未启用：请在服务器上设置 QA_ADMIN_TOKEN（至少16个字符）后重启服务。"
THANKS = "感谢您的反馈。"


# ---------------------------------------------------------------------------------------------
# Feedback


class FeedbackIn(BaseModel):
    """有用/没用 about one answer: its `answer_id` from /api/ask, or the question and answer themselves."""

    answer_id: str | None = Field(default=None, description="回答编号（/api/ask 返回的 answer_id）", examples=["3f9a0c1b2d4e5f60"])
    question: str | None = Field(default=None, description="问题（没有回答编号时必填）")
    answer: str | None = Field(default=None, description="回答（没有回答编号时必填）")
    useful: StrictBool = Field(description="true 表示有用，false 表示没用")
    comment: str | None = Field(default=None, description=f"意见（可不填，最多{MAX_COMMENT_CHARS}字）")


MAX_ANSWER_ID_CHARS = 64
ANSWER_ID_PATTERN = r"[^\s\x1c-\x1f\x85]"  # something that str.strip() leaves: a blank id is no id


def feedback_schema(schema: dict[str, Any], settings: Settings) -> None:
    """State in the OpenAPI schema what `save_feedback` holds feedback to.

    An answer id that is not blank, or a question (with something visible) and an answer;
    the question as `question` is checked (length and characters), the comment's and the
    id's lengths as sent.
    """
    model = schema["components"]["schemas"]["FeedbackIn"]
    fields = model["properties"]
    for name, limits in (
        ("answer_id", {"maxLength": MAX_ANSWER_ID_CHARS}),
        ("question", {"maxLength": settings.max_question_chars, "pattern": PREVIOUS_PATTERN}),
        ("comment", {"maxLength": MAX_COMMENT_CHARS}),
    ):
        for option in fields[name].get("anyOf", []):
            if option.get("type") == "string":
                option.update(limits)
    model["anyOf"] = [
        {"required": ["answer_id"], "properties": {"answer_id": {"type": "string", "pattern": ANSWER_ID_PATTERN}}},
        {
            "required": ["question", "answer"],
            "properties": {"question": {"type": "string", "pattern": QUESTION_PATTERN}, "answer": {"type": "string"}},
        },
    ]


class FeedbackOut(BaseModel):
    id: int
    message: str


def save_feedback(records: Records, service: QAService, fields: dict[str, Any]) -> int:
    """Check and store one feedback; FeedbackError/QuestionError for bad input, HTTP 503 when the database fails."""
    answer_id = (fields.get("answer_id") or "").strip() or None
    if answer_id is not None and len(answer_id) > MAX_ANSWER_ID_CHARS:
        raise FeedbackError("回答编号（answer_id）无效。")
    question = fields.get("question")
    if question is not None:  # one with nothing visible is none, as a blank one
        visible = any(shows_something(ch) for ch in question)
        question = validate_question(question, service.settings.max_question_chars) if visible else None
    try:
        return records.store.record_feedback(
            bool(fields["useful"]), fields.get("comment") or "", answer_id=answer_id, question=question, answer=fields.get("answer")
        )
    except StoreError:
        logger.exception("反馈写入失败")
        raise HTTPException(status_code=503, detail=STORE_UNAVAILABLE) from None


api = APIRouter(tags=["api"])


@api.post(
    "/api/feedback",
    status_code=201,
    response_model=FeedbackOut,
    dependencies=[Depends(limit_rate)],
    responses={
        400: {"model": ErrorOut, "description": "没有指明回答、意见太长"},
        404: {"model": ErrorOut, "description": "没有这个回答编号，也没有给出问题和回答"},
        429: {"model": ErrorOut, "description": "请求太频繁"},
        503: {"model": ErrorOut, "description": "暂时无法保存"},
    },
    summary="对一个回答评价“有用”或“没用”",
)
def api_feedback(body: FeedbackIn, service: ServiceDep, records: RecordsDep) -> JSONResponse:
    """Store 有用/没用 and an optional comment about an answer (the limits as `feedback_schema` states them)."""
    check_as_sent(body.question, service.settings.max_question_chars)
    if body.answer_id is not None and len(body.answer_id) > MAX_ANSWER_ID_CHARS:
        raise FeedbackError("回答编号（answer_id）无效。")
    if body.comment is not None and len(body.comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"意见太长（{len(body.comment)}字），请控制在{MAX_COMMENT_CHARS}字以内。")
    try:
        feedback_id = save_feedback(records, service, body.model_dump())
    except UnknownAnswerError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return JSONResponse({"id": feedback_id, "message": THANKS}, status_code=201)


pages = APIRouter(include_in_schema=False)


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form body as a dict (the last value of each field); 400 for anything else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=400, detail="请通过页面上的表单提交。")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="提交的内容太长。")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status_code=400, detail="提交的内容无法识别，请使用 UTF-8 文字。") from None
    return {name: values[-1] for name, values in fields.items()}


@pages.post("/feedback", response_class=HTMLResponse, dependencies=[Depends(limit_rate)])
async def feedback_form(request: Request, service: ServiceDep, records: RecordsDep) -> Response:
    """The form under each answer: store the feedback, then a thank-you page linking back to the answer."""
    form = await read_form(request)
    if form.get("useful") not in ("1", "0"):
        raise HTTPException(status_code=400, detail="请选择“有用”或“没用”。")
    fields = {**form, "useful": form["useful"] == "1"}
    await run_in_threadpool(save_feedback, records, service, fields)
    back = safe_back_link(form.get("back"))
    return render(request, "feedback_thanks.html", {"message": THANKS, "back": back, "useful": fields["useful"]})


# ---------------------------------------------------------------------------------------------
# Who may review


def _keyed(token: str, purpose: str) -> str:
    return hmac.new(token.encode("utf-8"), f"policy-qa {purpose}".encode(), hashlib.sha256).hexdigest()


def session_value(settings: Settings) -> str:
    """The cookie a successful login sets: a keyed hash of the token, so the cookie never holds it."""
    return _keyed(settings.admin_token, "review session")


def form_key(settings: Settings) -> str:
    """The hidden field every review form carries, so another site cannot post a form with the cookie."""
    return _keyed(settings.admin_token, "review form")


Access = Literal["off", "none", "bearer", "cookie"]


def review_access(request: Request) -> Access:
    """How this request may use the review page: switched off, not signed in, or by header or cookie."""
    settings: Settings = request.app.state.settings
    if not settings.admin_token:
        return "off"
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), settings.admin_token.encode()):
        return "bearer"
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if cookie and hmac.compare_digest(cookie.encode(), session_value(settings).encode()):
        return "cookie"
    return "none"


class LoginRequired(Exception):
    """Not signed in: the login form (HTML) or 401 (JSON)."""


def staff_access(request: Request, off_detail: str = REVIEW_OFF) -> Access:
    """The staff member's access: 403 with `off_detail` when no admin token is set, the login form when not signed in."""
    access = review_access(request)
    if access == "off":
        raise HTTPException(status_code=403, detail=off_detail)
    if access == "none":
        raise LoginRequired()
    return access


def require_staff(request: Request) -> Access:
    return staff_access(request)


StaffDep = Annotated[Access, Depends(require_staff)]


def login_page(request: Request, error: str = "", status_code: int = 401) -> Response:
    if "json" in request.headers.get("accept", "") and "html" not in request.headers.get("accept", ""):
        return JSONResponse(
            {"detail": "需要审核口令：请在 Authorization 请求头中提供 Bearer 口令。"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    response = render(request, "review_login.html", {"error": error}, status_code=status_code)
    response.headers["WWW-Authenticate"] = 'Bearer realm="review"'
    return response


async def on_login_required(request: Request, exc: Exception) -> Response:
    return login_page(request)


@pages.post("/review/login", dependencies=[Depends(limit_rate)])
async def review_login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.admin_token:
        raise HTTPException(status_code=403, detail=REVIEW_OFF)
    form = await read_form(request)
    typed = form.get("token", "").strip()
    if not hmac.compare_digest(typed.encode(), settings.admin_token.encode()):
        return login_page(request, "口令不正确，请重新输入。")
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(settings),
        max_age=SESSION_SECONDS,
        path="/review",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@pages.post("/review/logout")
async def review_logout() -> Response:
    response = RedirectResponse("/review", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/review")
    return response


# ---------------------------------------------------------------------------------------------
# The review pages


def local_time(stamp: str) -> str:
    """A stored UTC time as the server's local time, to the minute."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def _sort(value: str | None) -> str:
    return value if value in REVIEW_SORTS else "frequent"


@pages.get("/review", response_class=HTMLResponse)
def review(request: Request, access: StaffDep, records: RecordsDep, sort: str | None = None, added: str | None = None) -> Response:
    """The most frequent (or newest) refused questions and answers marked 没用."""
    order = _sort(sort)
    try:
        refused = records.store.review("refused", order, REVIEW_LIMIT)  # type: ignore[arg-type]
        not_useful = records.store.review("not_useful", order, REVIEW_LIMIT)  # type: ignore[arg-type]
        counts = records.store.counts()
    except StoreError:
        logger.exception("审核页面读取数据库失败")
        raise HTTPException(status_code=503, detail=STORE_UNAVAILABLE) from None
    context = {
        "sort": order,
        "refused": refused,
        "not_useful": not_useful,
        "counts": counts,
        "added": added if added and added.startswith("staff-") and len(added) < 40 else "",
        "log_on": records.settings.log_questions,
        "golden_path": records.settings.staff_golden_path.name,
        "local_time": local_time,
        "signed_in_by_cookie": access == "cookie",
        "form_key": form_key(records.settings),
    }
    return render(request, "review.html", context)


def item_context(service: QAService, records: Records, kind: ReviewKind, ref: int) -> dict[str, Any]:
    """What an item's page shows: the question, its answer, the passages, today's answer."""
    store = records.store
    comments: list[str] = []
    logged = None
    if kind == "refused":
        logged = store.question_row(ref)
        if logged is None:
            raise HTTPException(status_code=404, detail="没有找到这条提问记录，可能已按保留期限清理。")
        asked, answered, when = logged.asked_as, logged.answer, logged.asked_at
    else:
        feedback = store.feedback_row(ref)
        if feedback is None or feedback.useful:
            raise HTTPException(status_code=404, detail="没有找到这条反馈。")
        logged = store.question(feedback.answer_id)
        asked, answered, when = feedback.question, feedback.answer, feedback.created_at
        comments = [feedback.comment] if feedback.comment else []
    passages: tuple[LoggedPassage, ...] = logged.passages if logged else ()
    try:
        now = service.ask(asked)
    except QAError:
        now = None
    if not passages and now is not None:
        passages = tuple(
            LoggedPassage(p.chunk.doc_id, p.title, p.chunk.section, p.chunk.start, p.chunk.end, p.score, p.chunk.text)
            for p in now.passages
        )
    key = question_key(asked)
    return {
        "kind": kind,
        "ref": ref,
        "asked": asked,
        "answered": answered,
        "when": when,
        "logged": logged,
        "comments": comments,
        "passages": passages,
        "passages_live": logged is None,
        "now": now,
        "golden_id": store.golden_id(key),
        "local_time": local_time,
        "form_key": form_key(records.settings),
        "golden_path": records.settings.staff_golden_path.name,
        "draft": {"question": asked, "expect": "answer", "all": "", "any": ""},
        "error": "",
    }


@pages.get("/review/{kind}/{ref}", response_class=HTMLResponse)
def review_item(request: Request, kind: str, ref: int, access: StaffDep, service: ServiceDep, records: RecordsDep) -> Response:
    if kind not in ("refused", "not_useful"):
        raise HTTPException(status_code=404, detail="没有这类审核项目。")
    try:
        context = item_context(service, records, kind, ref)  # type: ignore[arg-type]
    except StoreError:
        logger.exception("审核页面读取数据库失败")
        raise HTTPException(status_code=503, detail=STORE_UNAVAILABLE) from None
    return render(request, "review_item.html", context)


@pages.post("/review/golden", response_class=HTMLResponse)
async def review_add_golden(request: Request, access: StaffDep, service: ServiceDep, records: RecordsDep) -> Response:
    """Append the item as a golden question to the staff golden file; back to the review list."""
    form = await read_form(request)
    if access == "cookie" and not hmac.compare_digest(form.get("form_key", "").encode(), form_key(records.settings).encode()):
        raise HTTPException(status_code=403, detail="表单已过期，请刷新审核页面后重新提交。")
    kind = form.get("kind", "")
    if kind not in ("refused", "not_useful") or not form.get("ref", "").isdigit():
        raise HTTPException(status_code=400, detail="审核项目无效。")
    ref = int(form["ref"])
    refuse = form.get("expect") == "refuse"

    def add() -> tuple[str, dict[str, Any] | None]:
        context = item_context(service, records, kind, ref)  # type: ignore[arg-type]
        try:
            golden = new_golden_question(
                form.get("question", ""), split_facts(form.get("all", "")), split_facts(form.get("any", "")), refuse=refuse
            )
            append_golden(records.settings.staff_golden_path, golden)
        except GoldenSetError as exc:
            context["error"] = str(exc)
            context["draft"] = {k: form.get(k, "") for k in ("question", "all", "any")} | {"expect": "refuse" if refuse else "answer"}
            return "", context
        records.store.mark_golden(question_key(context["asked"]), golden.id)
        return golden.id, None

    try:
        golden_id, failed = await run_in_threadpool(add)
    except StoreError:
        logger.exception("审核页面写入数据库失败")
        raise HTTPException(status_code=503, detail=STORE_UNAVAILABLE) from None
    if failed is not None:
        return render(request, "review_item.html", failed, status_code=400)
    return RedirectResponse(f"/review?added={golden_id}", status_code=303)


# ---------------------------------------------------------------------------------------------


def install_staff(app: FastAPI, settings: Settings) -> None:
    """Open the question log, and add the rate limiter, the access log and the staff routes to the app."""
    app.state.records = Records.open(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.add_middleware(AccessLogMiddleware)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.include_router(pages)
    app.include_router(api)
