"""Headless Chromium for the tests, driven by Selenium: Debian's `chromium` and
`chromium-driver`, installed with apt-get when missing (`tests/support/debian.py`), never a
browser or driver downloaded by a tool. Every wait is bounded."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.debian import ToolsUnavailable, apt_install

PACKAGES = ("chromium", "chromium-driver")
# Headless, and quiet: no first-run UI, no background fetches (updates, sync, QUIC probes)
# that would reach past loopback or add noise to the page's own requests.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
PAGE_LOAD_S = 60


@dataclass(frozen=True, slots=True)
class Browser:
    chromium: Path
    driver: Path


def _on_path() -> Browser | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        return None
    return Browser(chromium=Path(chromium), driver=Path(driver))


def find_or_install() -> Browser:
    """chromium and chromedriver from PATH, installing Debian's packages if either is missing."""
    found = _on_path()
    if found is not None:
        return found
    for package in PACKAGES:
        apt_install(package)
    found = _on_path()
    if found is None:
        raise ToolsUnavailable(
            f"Debian's {' and '.join(PACKAGES)} installed, yet chromium and chromedriver are "
            "still not both on PATH"
        )
    return found


def chrome(browser: Browser, *, user_data_dir: Path) -> webdriver.Chrome:
    """A fresh headless Chromium (its own profile directory) under Debian's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser.chromium)
    for flag in (*FLAGS, f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    # The console for failures; the DevTools network events for what went over the wire.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # A driver path given: Selenium Manager (which would download one) is never consulted.
    driver = webdriver.Chrome(service=Service(str(browser.driver)), options=options)
    driver.set_page_load_timeout(PAGE_LOAD_S)
    driver.set_script_timeout(PAGE_LOAD_S)
    return driver


def responses(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The responses the page received since the last call (DevTools Network events): each
    with its url, status and headers (names in lower case)."""
    seen: list[dict[str, Any]] = []
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        event = json.loads(entry["message"])["message"]
        if event.get("method") == "Network.responseReceived":
            response = event["params"]["response"]
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            seen.append({"url": response["url"], "status": response["status"], "headers": headers})
    return seen
