"""End to end in a real headless Chromium: ask, read the answer and its highlighted sources, open the document.

Needs Debian's `chromium` and `chromium-driver` (`make browser`); skipped with the reason
where they are missing. Selenium is given both paths, so selenium-manager never runs and
nothing is downloaded. Screenshots go to the test's tmp folder and to `test-output/`.
"""

from __future__ import annotations

import base64
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn

from qa.service import QAService
from qa.settings import PROJECT_ROOT, Settings
from web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 20
OUTPUT_DIR = PROJECT_ROOT / "test-output"
MOBILE = (390, 900)
DESKTOP = (1280, 900)

NUMBER_QUESTION = "到2025年要新制定多少项国家标准和行业标准？"
LIST_QUESTION = "新兴产业包括哪些领域？"


def _missing_browser() -> str:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    return (
        f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver, or `make browser`)" if missing else ""
    )


@contextmanager
def serving(app: object) -> Iterator[str]:
    """An app on a real uvicorn server on a free local port, in a thread; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")  # type: ignore[arg-type]
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        ready = threading.Event()
        for _ in range(200):
            if uvicorn_server.started:
                ready.set()
                break
            ready.wait(0.05)
        assert ready.is_set(), "the web server did not start within 10 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=WAIT_SECONDS)
        sock.close()


@pytest.fixture(scope="module")
def server(hash_settings: Settings, hash_service: QAService) -> Iterator[str]:
    """The app on a real server; its base URL."""
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    with serving(create_app(hash_settings, hash_service)) as url:
        yield url


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """A factory of headless Chromium drivers (window size, JavaScript on or off); all quit at the end."""
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[webdriver.Chrome] = []

    def start(size: tuple[int, int] = MOBILE, javascript: bool = True) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--lang=zh-CN",
            f"--window-size={size[0]},{size[1]}",
            f"--user-data-dir={tmp_path / f'chromium-profile-{len(drivers)}'}",
        ):
            options.add_argument(flag)
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        drivers.append(driver)
        driver.set_page_load_timeout(WAIT_SECONDS)
        driver.set_script_timeout(WAIT_SECONDS)
        driver.set_window_size(*size)
        return driver

    try:
        yield start
    finally:
        for driver in drivers:
            driver.quit()


def screenshot(driver: object, tmp_path: Path, name: str, full_page: bool = True) -> Path:
    """The page (whole, or what is on screen) as PNG, in the test's folder and in test-output/ for people to look at."""
    if full_page:
        result = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})  # type: ignore[attr-defined]
        png = base64.b64decode(result["data"])
    else:
        png = driver.get_screenshot_as_png()  # type: ignore[attr-defined]
    path = tmp_path / f"{name}.png"
    path.write_bytes(png)
    OUTPUT_DIR.mkdir(exist_ok=True)
    shutil.copy(path, OUTPUT_DIR / path.name)
    return path


def ask(driver: object, question: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]
    box = wait.until(ec.element_to_be_clickable((By.ID, "q")))
    old = driver.find_elements(By.ID, "latest")  # type: ignore[attr-defined]
    box.clear()
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "form.ask-form button[type=submit]").click()  # type: ignore[attr-defined]
    if old:
        wait.until(lambda _: _detached(old[0]))
    wait.until(ec.presence_of_element_located((By.ID, "latest")))


def _detached(element: object) -> bool:
    """Whether an element left the page: Chromium reports a node of the page being replaced as stale,
    or, during the navigation itself, as a node that "does not belong to the document"."""
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()  # type: ignore[attr-defined]
    except WebDriverException:
        return True
    return False


def test_ask_read_the_highlighted_source_and_open_the_document(
    server: str, browser: Callable[..., object], hash_service: QAService, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    expected = hash_service.ask(NUMBER_QUESTION)
    driver = browser(MOBILE)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]
    driver.get(server + "/")  # type: ignore[attr-defined]
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, "home-mobile")

    ask(driver, NUMBER_QUESTION)
    card = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .answer-card")))
    assert "2000项以上" in card.text
    marks = [m for m in driver.find_elements(By.CSS_SELECTOR, "#latest .passage mark") if m.is_displayed()]  # type: ignore[attr-defined]
    assert {m.text for m in marks} == {c.text for c in expected.citations}
    # Nothing overflows a phone screen sideways.
    assert driver.execute_script("return document.documentElement.scrollWidth") <= MOBILE[0]  # type: ignore[attr-defined]
    assert "q=" in driver.current_url  # type: ignore[attr-defined]  # a shareable answer page
    screenshot(driver, tmp_path, "answer-mobile")

    # With JavaScript the copy button replaces the no-JS text box.
    copy = driver.find_element(By.CSS_SELECTOR, "#latest button.copy")  # type: ignore[attr-defined]
    assert copy.is_displayed()
    copy.click()
    wait.until(
        lambda d: copy.text == "已复制" or d.find_element(By.CSS_SELECTOR, "#latest .copy-fallback textarea").is_displayed()
    )

    # Follow a quote to the whole document: the same span highlighted and scrolled into view.
    citation = expected.citations[-1]
    link = driver.find_element(By.CSS_SELECTOR, f"#latest a.quote-link[href*='hl={citation.start}-{citation.end}']")  # type: ignore[attr-defined]
    link.click()
    anchor = f"c-{citation.start}-{citation.end}"
    mark = wait.until(ec.visibility_of_element_located((By.ID, anchor)))
    assert mark.tag_name == "mark" and mark.text == citation.text
    in_view = driver.execute_script(  # type: ignore[attr-defined]
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;", mark
    )
    assert in_view
    assert "返回答案" in driver.find_element(By.CSS_SELECTOR, ".crumbs").text  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, "document-mobile", full_page=False)


def test_conversation_on_desktop(server: str, browser: Callable[..., object], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(DESKTOP)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]
    driver.get(server + "/")  # type: ignore[attr-defined]
    ask(driver, LIST_QUESTION)
    ask(driver, "那未来产业呢？")
    resolved = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .resolved")))
    assert "未来产业包括哪些领域？" in resolved.text
    earlier = driver.find_elements(By.CSS_SELECTOR, ".turn-earlier .ask-text")  # type: ignore[attr-defined]
    assert [e.text for e in earlier] == [LIST_QUESTION]
    assert driver.find_elements(By.CSS_SELECTOR, "#latest .passage mark")  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, "conversation-desktop")

    ask(driver, "今天天气怎么样？")
    none = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .answer-none")))
    assert "未在文件中找到" in none.text
    suggestion = none.find_element(By.CSS_SELECTOR, ".topics a")
    suggested = suggestion.get_attribute("href") or ""
    screenshot(driver, tmp_path, "not-found-desktop")
    suggestion.click()
    # A suggestion asks its question (whatever the test embedder makes of it).
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#latest .ask-text"), parse_qs(urlsplit(suggested).query)["q"][0]))


def test_works_without_javascript(server: str, browser: Callable[..., object], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(MOBILE, javascript=False)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]
    driver.get(server + "/")  # type: ignore[attr-defined]
    ask(driver, LIST_QUESTION)
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .answer-card")))
    assert not driver.find_element(By.CSS_SELECTOR, "#latest button.copy").is_displayed()  # type: ignore[attr-defined]
    summary = driver.find_element(By.CSS_SELECTOR, "#latest .copy-fallback summary")  # type: ignore[attr-defined]
    summary.click()
    textarea = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .copy-fallback textarea")))
    quote = textarea.get_attribute("value") or ""
    assert "工信部联科〔2023〕118号" in quote and "解读" in quote  # the part as the document names it
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", textarea)  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, "answer-nojs-mobile", full_page=False)


# ---------------------------------------------------------------- staff: feedback and the review page

STAFF_TOKEN = "browser-review-token-0123"
PHONE = (375, 900)
REFUSED_QUESTION = "请问有哪些？"  # asks about nothing: refused whatever the model


@pytest.fixture()
def staff_server(hash_settings: Settings, hash_service: QAService, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """The app with the review page on (a token), its own database and staff golden file."""
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    settings = hash_settings.with_(
        admin_token=STAFF_TOKEN, db_path=tmp_path / "qa.sqlite3", staff_golden_path=tmp_path / "staff.jsonl"
    )
    with serving(create_app(settings, hash_service)) as url:
        yield url, settings


def no_sideways_scroll(driver: object, width: int) -> None:
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "375"])
def test_feedback_then_review_it_into_a_golden_question(
    staff_server: tuple[str, Settings], browser: Callable[..., object], tmp_path: Path, size: tuple[int, int]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from qa.evaluate.evaluation import load_golden

    url, settings = staff_server
    width = size[0]
    driver = browser(size)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]

    # A citizen: an answer marked 没用 with a comment, sent in place by the page's script.
    driver.get(url + "/")  # type: ignore[attr-defined]
    ask(driver, LIST_QUESTION)
    form = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest form.feedback")))
    form.find_element(By.CSS_SELECTOR, ".feedback-more summary").click()
    form.find_element(By.TAG_NAME, "textarea").send_keys("少了民用航空领域")
    form.find_element(By.CSS_SELECTOR, "button.feedback-no").click()
    wait.until(lambda d: form.find_element(By.CSS_SELECTOR, ".feedback-status").text == "感谢您的反馈。")
    assert "q=" in driver.current_url  # type: ignore[attr-defined]  # still on the answer
    assert not form.find_element(By.CSS_SELECTOR, "button.feedback-no").is_displayed()
    no_sideways_scroll(driver, width)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", form)  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, f"feedback-sent-{width}", full_page=False)

    # A question the documents cannot answer, twice: the review page lists it first.
    ask(driver, REFUSED_QUESTION)
    ask(driver, REFUSED_QUESTION)

    # Staff: the login form, then the lists.
    driver.get(url + "/review")  # type: ignore[attr-defined]
    token = wait.until(ec.visibility_of_element_located((By.ID, "token")))
    screenshot(driver, tmp_path, f"review-login-{width}", full_page=False)
    token.send_keys(STAFF_TOKEN)
    driver.find_element(By.CSS_SELECTOR, ".review-login button[type=submit]").click()  # type: ignore[attr-defined]
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".review-list")))
    page = driver.find_element(By.CSS_SELECTOR, ".review").text  # type: ignore[attr-defined]
    assert REFUSED_QUESTION in page and "2 次" in page
    assert LIST_QUESTION in page and "少了民用航空领域" in page
    no_sideways_scroll(driver, width)
    screenshot(driver, tmp_path, f"review-{width}")

    # The refused question's page: its passages, and a golden question "should be refused".
    driver.find_element(By.LINK_TEXT, REFUSED_QUESTION).click()  # type: ignore[attr-defined]
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".golden-form")))
    assert driver.find_elements(By.CSS_SELECTOR, ".review-detail .source .passage")  # type: ignore[attr-defined]
    no_sideways_scroll(driver, width)
    screenshot(driver, tmp_path, f"review-item-{width}")
    driver.find_element(By.CSS_SELECTOR, "input[name=expect][value=refuse]").click()  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, ".golden-form button[type=submit]").click()  # type: ignore[attr-defined]
    added = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".review-added")))
    assert "已加入回归测试" in added.text
    (golden,) = load_golden(settings.staff_golden_path)
    assert golden.question == REFUSED_QUESTION and not golden.answerable
    assert REFUSED_QUESTION not in driver.find_element(By.CSS_SELECTOR, ".review").text  # type: ignore[attr-defined]
    screenshot(driver, tmp_path, f"review-added-{width}")


def test_feedback_without_javascript_and_review_switched_off(
    server: str, browser: Callable[..., object], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(PHONE, javascript=False)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]
    driver.get(server + "/")  # type: ignore[attr-defined]
    ask(driver, NUMBER_QUESTION)
    driver.find_element(By.CSS_SELECTOR, "#latest button.feedback-yes").click()  # type: ignore[attr-defined]
    thanks = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice-page")))
    assert "感谢您的反馈" in thanks.text
    screenshot(driver, tmp_path, "feedback-thanks-nojs-375", full_page=False)
    thanks.find_element(By.LINK_TEXT, "返回答案").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#latest .answer-card")))

    driver.get(server + "/review")  # type: ignore[attr-defined]
    assert "审核页面未启用" in driver.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]


UPLOAD_NOTICE = "关于开放图书馆夜间阅览的通知\n\n一、开放时间\n\n每周五和周六晚上开放至二十二时。\n"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "375"])
def test_documents_page_scope_to_one_document_and_upload_with_a_token(
    browser: Callable[..., object], tmp_path: Path, size: tuple[int, int]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_web_library import MIIT, make_library
    from web.library import UPLOAD_OFF

    corpus = make_library(tmp_path / "library")
    settings = Settings(model="hash", corpus_dir=corpus, index_dir=tmp_path / "library" / "index", db_path=tmp_path / "qa.sqlite3")
    service = QAService.load(settings, show_progress=False)
    width = size[0]
    driver = browser(size)
    wait = WebDriverWait(driver, WAIT_SECONDS)  # type: ignore[arg-type]

    # Read-only by default: without a token there is no upload.
    with serving(create_app(settings, service)) as url:
        driver.get(url + "/review/upload")  # type: ignore[attr-defined]
        assert UPLOAD_OFF in driver.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]

    with serving(create_app(settings.with_(admin_token=STAFF_TOKEN), service)) as url:
        # The home page says what the library holds and links to the list.
        driver.get(url + "/")  # type: ignore[attr-defined]
        line = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".library-line")))
        assert "收录 3 份政策文件" in line.text
        line.find_element(By.LINK_TEXT, "查看全部文件").click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".document-list")))
        items = driver.find_elements(By.CSS_SELECTOR, ".document-item")  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, ".skipped summary").click()  # type: ignore[attr-defined]
        assert len(items) == 3 and "broken.docx：" in driver.find_element(By.CSS_SELECTOR, ".skipped").text  # type: ignore[attr-defined]
        no_sideways_scroll(driver, width)
        screenshot(driver, tmp_path, f"documents-{width}")

        # Ask within one document: the selector shows it, the URL keeps it, every source is from it.
        miit = next(i for i in items if "新产业标准化领航工程" in i.text)
        miit.find_element(By.LINK_TEXT, "就这份文件提问").click()
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "details.scope[open]")))
        ask(driver, LIST_QUESTION)
        assert f"doc={MIIT}" in driver.current_url  # type: ignore[attr-defined]
        assert "已选 1 份文件" in driver.find_element(By.CSS_SELECTOR, "details.scope summary").text  # type: ignore[attr-defined]
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#latest .source a.action")]  # type: ignore[attr-defined]
        assert links and all(f"/documents/{MIIT}?" in link for link in links)
        assert "出自《" in driver.find_element(By.CSS_SELECTOR, "#latest .answer-card").text  # type: ignore[attr-defined]
        no_sideways_scroll(driver, width)
        screenshot(driver, tmp_path, f"scoped-answer-{width}")

        # Staff: signed in, a file uploaded, the build shown, the document listed without a restart.
        driver.get(url + "/review/upload")  # type: ignore[attr-defined]
        token = wait.until(ec.visibility_of_element_located((By.ID, "token")))
        token.send_keys(STAFF_TOKEN)
        driver.find_element(By.CSS_SELECTOR, ".review-login button[type=submit]").click()  # type: ignore[attr-defined]
        wait.until(ec.visibility_of_element_located((By.LINK_TEXT, "添加文件到文档库"))).click()
        upload = wait.until(ec.presence_of_element_located((By.ID, "file")))
        notice = tmp_path / "图书馆夜间阅览.txt"
        notice.write_bytes(UPLOAD_NOTICE.encode("gbk"))
        upload.send_keys(str(notice))
        driver.find_element(By.CSS_SELECTOR, ".upload-form button[type=submit]").click()  # type: ignore[attr-defined]
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".form-ok")))
        assert "已加入：图书馆夜间阅览.txt" in driver.find_element(By.CSS_SELECTOR, ".form-ok").text  # type: ignore[attr-defined]
        no_sideways_scroll(driver, width)
        screenshot(driver, tmp_path, f"upload-sent-{width}")
        from selenium.common.exceptions import StaleElementReferenceException

        refreshing = WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException])  # type: ignore[arg-type]
        refreshing.until(lambda d: "索引已更新" in d.find_element(By.TAG_NAME, "main").text)  # the page refreshes itself
        screenshot(driver, tmp_path, f"upload-built-{width}")
        driver.get(url + "/documents")  # type: ignore[attr-defined]
        assert "关于开放图书馆夜间阅览的通知" in driver.find_element(By.CSS_SELECTOR, ".document-list").text  # type: ignore[attr-defined]
