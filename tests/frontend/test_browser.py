"""The example client (clients/web) in headless Chromium, against dev mode run as a child
process: the page on an origin of its own loads categories and a category's listings across
origins (pages, filters), opens a listing, signs in against the dev Cognito pool from the
browser, saves and removes a favourite, shows an admin's rename once the write has returned,
and says clearly that the API is unavailable when it answers 503 (DynamoDB stopped). It saves
screenshots under var/screenshots/."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from service.dev.devpool import DevPool, issue_access_token
from service.dev.devserver import free_port, moto_server
from tests.support import browser_tools

# Dev mode as a child process (its own moto, the local Redis), chromium and chromedriver.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.subprocess,
    pytest.mark.dynamodb,
    pytest.mark.redis,
]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
DEV_READY_S = 180.0
WAIT_S = 30.0


@dataclass(frozen=True)
class Dev:
    api: str
    page: str
    pool: DevPool


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), None


def _patch(url: str, body: dict[str, Any], *, token: str, if_match: str) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "If-Match": if_match,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def _ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEV_READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"dev mode exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError):
            if _get(f"{url}/readyz")[0] == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"dev mode was not ready within {DEV_READY_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def dev_mode(tmp_path: Path, dynamodb: str) -> Iterator[Dev]:
    """`python -m service dev` in `tmp_path` (its var/ there), on DynamoDB at `dynamodb`."""
    api_port, page_port = free_port(), free_port()
    env = {
        **os.environ,
        "HUSTLEHUB_HOST": "127.0.0.1",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": dynamodb,
        "HUSTLEHUB_TABLE_NAME": f"hh-browser-{uuid.uuid4().hex[:8]}",
        "HUSTLEHUB_REDIS_PREFIX": f"hh-browser-{uuid.uuid4().hex[:8]}",
        "HUSTLEHUB_STREAM_INVALIDATION": "false",
    }
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "dev", "--port", str(api_port),
             "--example-port", str(page_port)],
            cwd=tmp_path, env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        try:
            api = f"http://127.0.0.1:{api_port}"
            _ready(api, proc, log)
            pool = DevPool.from_json((tmp_path / "var" / "dev-state.json").read_text())
            yield Dev(api, f"http://127.0.0.1:{page_port}/", pool)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _until(driver: WebDriver, what: str, check: Callable[[WebDriver], Any]) -> Any:
    try:
        # The page re-renders a list while it is read: an element replaced meanwhile is
        # simply read again on the next poll.
        return WebDriverWait(
            driver, WAIT_S, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(check)
    except TimeoutException as exc:
        shown = driver.find_element(By.ID, "message").text
        logs = driver.get_log("browser")  # type: ignore[no-untyped-call]
        raise AssertionError(f"waiting for {what}: page message {shown!r}, console {logs}") from exc


def _texts(driver: WebDriver, selector: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def _buttons(driver: WebDriver, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"{selector} li button")


def _shown(driver: WebDriver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).get_attribute("hidden") is None


def _screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    assert driver.save_screenshot(str(path)), path
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


@pytest.fixture(scope="module")
def browser() -> browser_tools.Browser:
    return browser_tools.find_or_install()


def test_the_example_client_works_across_origins_in_chromium(
    tmp_path: Path, browser: browser_tools.Browser
) -> None:
    with contextlib.ExitStack() as dynamodb:
        # DynamoDB of the test's own, so that it can be stopped; Cognito is dev mode's.
        endpoint = dynamodb.enter_context(moto_server(log=tmp_path / "moto.log"))
        with dev_mode(tmp_path, endpoint) as dev:
            driver = browser_tools.chrome(browser, user_data_dir=tmp_path / "chromium")
            try:
                _scenario(driver, dev, stop_dynamodb=dynamodb.close)
            finally:
                driver.quit()


def _scenario(driver: WebDriver, dev: Dev, *, stop_dynamodb: Callable[[], None]) -> None:
    assert dev.page.split(":")[2] != dev.api.split(":")[2]  # another origin: another port
    categories = _get(f"{dev.api}/v1/categories")[2]["items"]

    # Categories, then a category's listings, read from the API's origin.
    driver.get(dev.page)
    _until(driver, "the categories", lambda d: len(_buttons(d, "#categories")) == len(categories))
    first = categories[0]
    _buttons(driver, "#categories")[0].click()
    _until(driver, "a page of listings", lambda d: len(_texts(d, "#listings li")) == 10)
    assert driver.find_element(By.ID, "category-name").text == first["name"]
    page_one = [b.text for b in _buttons(driver, "#listings")]
    # Chromium asked for a compressed body, got one and decoded it (the page shows it).
    pages = [r for r in browser_tools.responses(driver) if "/listings?" in r["url"]]
    assert pages, "no listing page seen on the wire"
    assert pages[-1]["headers"]["content-encoding"] in ("br", "gzip"), pages[-1]
    assert "Origin" in pages[-1]["headers"]["vary"]
    expected = _get(f"{dev.api}/v1/categories/{first['slug']}/listings?limit=10")[2]
    assert page_one == [listing["title"] for listing in expected["items"]]

    # The next page, through the cursor.
    assert _shown(driver, "next-page")
    driver.find_element(By.ID, "next-page").click()
    _until(driver, "page two", lambda d: [b.text for b in _buttons(d, "#listings")] != page_one)
    assert not set(_texts(driver, "#listings li button")) & set(page_one)

    # A filter: listings located in the UK, as the API filters them.
    driver.find_element(By.ID, "location").send_keys("UK")
    driver.find_element(By.CSS_SELECTOR, "#filters button").click()
    found = _get(f"{dev.api}/v1/categories/{first['slug']}/listings?limit=10&location=UK")[2]
    wanted = [listing["title"] for listing in found["items"]]
    assert wanted
    assert wanted != page_one[: len(wanted)]  # the filter changed what is shown
    _until(driver, "UK listings", lambda d: [b.text for b in _buttons(d, "#listings")] == wanted)
    assert all(", UK" in row for row in _texts(driver, "#listings li"))

    # A listing.
    _buttons(driver, "#listings")[0].click()
    _until(
        driver, "the listing", lambda d: d.find_element(By.ID, "listing-title").text == wanted[0]
    )
    listing = found["items"][0]
    assert not _shown(driver, "save")  # not signed in

    # Sign-in from the browser against the dev pool (InitiateAuth, USER_PASSWORD_AUTH).
    demo = dev.pool.users["demo"]
    driver.find_element(By.ID, "username").send_keys(demo.username)
    driver.find_element(By.ID, "password").send_keys(demo.password)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    _until(driver, "signed in", lambda d: d.find_element(By.ID, "who").text == demo.display_name)

    # Save a favourite, then remove it: PUT and DELETE with a token, each after a preflight.
    demo_token = asyncio.run(issue_access_token(dev.pool, "demo"))
    _until(driver, "the save button", lambda d: _shown(d, "save"))
    driver.find_element(By.ID, "save").click()
    _until(driver, "the saved listing", lambda d: wanted[0] in _texts(d, "#favourites li"))
    saved = _get(f"{dev.api}/v1/me/favourites", demo_token)[2]["items"]
    assert [f["listingId"] for f in saved] == [listing["id"]]
    assert _shown(driver, "remove")
    driver.find_element(By.ID, "remove").click()
    _until(driver, "the favourite gone", lambda d: wanted[0] not in _texts(d, "#favourites li"))
    assert _get(f"{dev.api}/v1/me/favourites", demo_token)[2]["items"] == []
    driver.find_element(By.ID, "save").click()
    _until(driver, "saved again", lambda d: wanted[0] in _texts(d, "#favourites li"))

    # An admin renames the listing; once the write has returned the page shows the new name.
    admin = asyncio.run(issue_access_token(dev.pool, "admin"))
    _, headers, _ = _get(f"{dev.api}/v1/listings/{listing['id']}")
    renamed = f"Renamed by an admin {uuid.uuid4().hex[:6]}"
    url = f"{dev.api}/v1/admin/listings/{listing['id']}"
    assert _patch(url, {"title": renamed}, token=admin, if_match=headers["ETag"]) == 200
    driver.find_element(By.ID, "refresh").click()
    _until(driver, "the rename", lambda d: d.find_element(By.ID, "listing-title").text == renamed)
    _until(driver, "the rename in the list", lambda d: renamed in _texts(d, "#listings li button"))
    _until(driver, "the rename in favourites", lambda d: renamed in _texts(d, "#favourites li"))
    assert not _shown(driver, "message")
    _screenshot(driver, "example-client.png")

    # DynamoDB stops: a page nothing has cached yet is a 503, and the page says so.
    stop_dynamodb()
    _buttons(driver, "#categories")[-1].click()
    _until(driver, "the 503 message", lambda d: _shown(d, "message"))
    message = driver.find_element(By.ID, "message")
    assert message.get_attribute("data-status") == "503"
    assert "unavailable" in message.text
    assert "Try again in" in message.text  # Retry-After, exposed to the page
    _screenshot(driver, "example-client-503.png")
