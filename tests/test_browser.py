"""The chat page in real headless Chromium (Debian's), against a real server and the real model."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from assistant.api import create_app
from assistant.build import build_index, scan_corpus
from assistant.config import BUNDLED_MODEL, Settings
from assistant.embedding import load_embedder
from assistant.service import Assistant

from .helpers import ROOT, SEED_CORPUS, free_port

pytestmark = pytest.mark.slow  # the real model and a browser

ADMIN_TOKEN = "browser-admin"
PERSONAL_DATA = json.loads((Path(__file__).parent / "data" / "personal_data_examples.json").read_text(encoding="utf-8"))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
HOSTILE_REVIEW = """# Review of trampoline safety in Hostileshire

## Theme 1: Trampoline safety and garden supervision

Practitioners found that trampoline injuries rose when garden supervision lapsed. <script>window.__xss = 1</script>
The review quoted a web page containing <img src=x onerror="window.__xss = 2"> and <b onmouseover="alert(1)">bold</b>.

## Theme 2: Supervision of play

Parents should be advised that trampoline play needs an adult watching at all times.
"""



@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "hostile-markup-review.md").write_text(HOSTILE_REVIEW, encoding="utf-8")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index", model=BUNDLED_MODEL,
                                 data_dir=root / "appdata", admin_token=ADMIN_TOKEN)
    assistant = Assistant(settings, embedder=load_embedder(BUNDLED_MODEL))
    build_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant=assistant), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: `make browser` installs it"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver: WebDriver, seconds: float = 60) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def ask(driver: WebDriver, question: str, expected_answers: int) -> WebElement:
    box = driver.find_element(By.ID, "question")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".bubble.answer:not(.pending)"))
                       >= expected_answers)
    return driver.find_elements(By.CSS_SELECTOR, ".bubble.answer:not(.pending)")[expected_answers - 1]


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(height, 600), 4000))
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def csp_violations(driver: WebDriver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_ask_follow_up_and_read_in_context(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/")
    assert "does not replace local procedures" in browser.find_element(By.CLASS_NAME, "notice").text
    first = ask(browser, "what should I do if a family won't engage with early help", 1)
    markers = first.find_elements(By.CSS_SELECTOR, ".answer-text a.marker")
    assert markers and markers[0].text == "[1]"
    citations = first.find_elements(By.CSS_SELECTOR, ".citation")
    assert any("Theme 6" in c.text and "Telford and Wrekin" in c.text for c in citations[:3])
    assert markers[0].get_attribute("href").endswith("#cite-1-1")

    second = ask(browser, "who should I contact before closing it?", 2)
    assert "Searched for:" in second.find_element(By.CLASS_NAME, "searched").text
    assert "Family Connect" in second.text
    assert browser.find_element(By.ID, "question").get_attribute("value") == ""
    screenshot(browser, "chat-desktop")

    link = second.find_element(By.CSS_SELECTOR, ".citation .context-link")
    href = link.get_attribute("href")
    chunk_id = href.rsplit("#", 1)[1]
    link.click()
    wait(browser).until(expected_conditions.url_contains("/documents/"))
    target = wait(browser).until(lambda d: d.find_element(By.ID, chunk_id))
    wait(browser).until(lambda d: "is-cited" in target.get_attribute("class"))
    background = target.value_of_css_property("background-color")
    assert background in ("rgba(255, 242, 179, 1)", "rgb(255, 242, 179)")
    in_view = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight;", target)
    assert in_view
    assert browser.execute_script("return document.activeElement.id") == chunk_id
    screenshot(browser, "source-viewer-desktop")
    assert csp_violations(browser) == []


def test_a_new_topic_is_answered_alone_and_a_follow_up_can_be_asked_on_its_own(live_server: str,
                                                                               browser: WebDriver) -> None:
    browser.get(live_server + "/")
    first = ask(browser, "what should I do if a family won't engage with early help", 1)
    assert not first.find_elements(By.CLASS_NAME, "follows")
    second = ask(browser, "What is the Graded Care Profile?", 2)
    assert not second.find_elements(By.CLASS_NAME, "follows")  # a new topic: read on its own
    top = second.find_elements(By.CSS_SELECTOR, ".citation")[0]
    assert "Graded Care Profile" in top.text and "Luton" in top.text

    third = ask(browser, "and who uses it?", 3)
    note = third.find_element(By.CLASS_NAME, "follows")
    assert "What is the Graded Care Profile?" in note.text
    screenshot(browser, "chat-follow-up")
    note.find_element(By.CLASS_NAME, "ask-alone").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".bubble.answer:not(.pending)")) >= 4)
    again = browser.find_elements(By.CSS_SELECTOR, ".bubble.answer:not(.pending)")[3]
    assert not again.find_elements(By.CLASS_NAME, "follows")  # asked without the history
    questions = [q.text for q in browser.find_elements(By.CSS_SELECTOR, ".bubble.question")]
    assert questions[-1].endswith("and who uses it?")
    assert csp_violations(browser) == []


def test_phone_width(live_server: str, browser: WebDriver) -> None:
    browser.set_window_size(375, 812)
    browser.get(live_server + "/")
    ask(browser, "Should I record DNA or WNB when a child misses an appointment?", 1)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(browser, "chat-phone")
    browser.set_window_size(375, 812)
    browser.get(live_server + "/documents/2021-telford-wrekin-thematic-briefing-3#chunk-10")
    assert browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(browser, "source-viewer-phone")


def test_review_markup_never_runs(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/")
    answer = ask(browser, "trampoline injuries and garden supervision", 1)
    passages = " ".join(p.text for p in answer.find_elements(By.CSS_SELECTOR, ".passage"))
    assert "<script>window.__xss = 1</script>" in passages
    assert '<img src=x onerror="window.__xss = 2">' in passages
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert not answer.find_elements(By.CSS_SELECTOR, ".passage img, .passage script, .passage b")
    browser.get(live_server + "/documents/hostile-markup-review")
    assert "<script>window.__xss = 1</script>" in browser.find_element(By.TAG_NAME, "main").text
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script")


def test_keyboard_and_empty_question(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/")
    box = browser.find_element(By.ID, "question")
    box.send_keys("first line")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("second line")
    assert box.get_attribute("value") == "first line\nsecond line"
    assert not browser.find_elements(By.CSS_SELECTOR, ".turn")
    box.clear()
    box.send_keys("   ")
    box.send_keys(Keys.ENTER)
    error = browser.find_element(By.ID, "form-error")
    assert error.is_displayed() and "Type a question" in error.text
    assert error.get_attribute("role") == "alert"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=question]").text == "Your question"
    # tabbing from the box reaches the Ask button
    box.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "ask-button"


def test_api_docs_page_is_served_locally(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/docs")
    wait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
    assert "/api/ask" in browser.find_element(By.ID, "swagger-ui").text


def test_extracts_collect_reload_and_download(live_server: str, browser: WebDriver, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(live_server + "/extracts")
    browser.find_element(By.ID, "q").send_keys("professional curiosity")
    browser.find_element(By.CSS_SELECTOR, "#theme option[value='professional-curiosity']").click()
    browser.find_element(By.ID, "search-button").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .citation")) >= 2)
    assert "Professional curiosity appears in" in wait(browser).until(
        lambda d: d.find_element(By.ID, "theme-overview").text)
    results = browser.find_elements(By.CSS_SELECTOR, "#results .citation")
    picked = [r.find_element(By.CLASS_NAME, "passage").text for r in results[:2]]
    for result in results[:2]:
        assert "Professional curiosity" in result.find_element(By.CLASS_NAME, "tags").text
        result.find_element(By.CSS_SELECTOR, "button.add-extract").click()
    assert browser.find_element(By.ID, "collection-count").text == "2"
    screenshot(browser, "extracts-desktop")

    browser.refresh()
    wait(browser).until(lambda d: d.find_element(By.ID, "collection-count").text == "2")
    collected = browser.find_elements(By.CSS_SELECTOR, "#collection .collected")
    assert len(collected) == 2
    # reorder: the second moves up
    collected[1].find_element(By.XPATH, ".//button[text()='Up']").click()
    browser.find_element(By.CSS_SELECTOR, ".export-buttons button[data-format='md']").click()
    wait(browser).until(lambda d: list(downloads.glob("*.md")))
    exported = next(downloads.glob("*.md")).read_text(encoding="utf-8")
    assert exported.startswith("# Extracts from safeguarding case reviews")
    first_line = [p.split("\n")[0] for p in reversed(picked)]
    assert exported.index(first_line[0]) < exported.index(first_line[1])
    assert exported.count("**Reference:**") == 2


NEW_THEMES = ("physical-abuse", "substance-misuse", "schools", "children-in-care", "disabled-children",
              "sexual-abuse", "online-harm", "missing-children")


def test_the_themes_page_is_a_map_and_a_new_theme_filters_extracts(live_server: str, browser: WebDriver) -> None:
    themes = httpx.get(live_server + "/api/themes").json()["themes"]
    theme = next(t for t in themes if t["id"] in NEW_THEMES and t["chunks"] > 0)  # one of the areas added
    browser.get(live_server + "/themes")
    groups = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".theme-group > h2")]
    assert groups == ["Forms of harm", "Children, families and settings", "Practice lessons"]
    card = browser.find_element(By.ID, f"theme-{theme['id']}")
    assert f"Appears in {theme['documents']} of" in card.text
    card.find_element(By.CSS_SELECTOR, "h3 a").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .citation")) >= 1)
    for result in browser.find_elements(By.CSS_SELECTOR, "#results .citation"):
        assert theme["label"] in result.find_element(By.CLASS_NAME, "tags").text
    assert browser.find_element(By.CSS_SELECTOR, f"#theme option[value='{theme['id']}']").is_selected()
    assert csp_violations(browser) == []


def test_personal_data_is_caught_before_it_is_sent(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/")
    box = browser.find_element(By.ID, "question")
    box.send_keys("Child Tyler Brown DOB 03/07/2019 has bruises on his arms, what should I do?")
    box.send_keys(Keys.ENTER)
    error = browser.find_element(By.ID, "form-error")
    assert error.is_displayed() and "please don't enter details that identify a child or family" in error.text
    assert "name" in error.text and "date of birth" in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, ".turn")  # nothing was sent
    # The page applies the server's own patterns and rule: the same verdict on every example.
    check = ("return arguments[0].map(function (t) { return window.Assistant.personalDataWarning("
             "document.getElementById('ask-form'), t) !== ''; });")
    examples = PERSONAL_DATA["identifying"] + PERSONAL_DATA["clean"]
    verdicts = browser.execute_script(check, [example["text"] for example in examples])
    expected = [example.get("warn", False) for example in examples]
    assert [e["text"] for e, got, want in zip(examples, verdicts, expected, strict=True) if got != want] == []
    screenshot(browser, "personal-data-warning")


def test_feedback_buttons_store_a_rating_and_a_comment(live_server: str, browser: WebDriver) -> None:
    browser.get(live_server + "/")
    answer = ask(browser, "Should I record DNA or WNB when a child misses an appointment?", 1)
    answer.find_element(By.CSS_SELECTOR, ".feedback-no").click()
    status = answer.find_element(By.CLASS_NAME, "feedback-status")
    wait(browser, 20).until(lambda d: "Thank you" in status.text)
    comment = answer.find_element(By.CLASS_NAME, "feedback-comment")
    comment.send_keys("It should say who to tell. Ring Mrs Ruth Baxter on 07700 900123.")
    answer.find_element(By.CLASS_NAME, "feedback-send").click()
    wait(browser, 20).until(lambda d: status.text == "Thank you for your comment.")
    stored = httpx.get(live_server + "/api/admin/feedback", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    latest = stored["feedback"][0]
    assert latest["helpful"] is False and latest["kind"] == "answer"
    assert latest["question"] == "Should I record DNA or WNB when a child misses an appointment?"
    assert latest["comment"] == "It should say who to tell. Ring Mrs [name] on [phone number]."
    assert latest["citations"] and latest["coverage"] in ("direct", "related")
    screenshot(browser, "feedback")
    assert csp_violations(browser) == []
