"""Playwright in the system's Chromium (never a downloaded browser) against pytest-django's live server.

One browser per test module (starting Chromium takes most of a second); each test gets a fresh context, signed in
by copying a Django session cookie into it. Tests skip, saying why, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The sync Playwright API runs an event loop in this thread; Django refuses ORM calls from a thread with a running
# loop unless told that this is deliberate. The ORM calls here are the test's own, never concurrent with a request.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("NERLAB_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield launched
        launched.close()


def _report_csp_violation(message: Any, errors: list[str]) -> None:
    if "Content Security Policy" in message.text:  # how Chromium words every violation it reports
        errors.append(message.text)


@pytest.fixture
def sign_in(browser, live_server):
    """``sign_in(user)`` -> a Playwright page whose context carries that user's session."""
    from django.conf import settings
    from django.test import Client

    contexts: list[Any] = []
    errors: list[str] = []  # uncaught JavaScript errors and Content-Security-Policy violations fail the test

    def open_page(user: Any, width: int = 1280, height: int = 800) -> Any:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
        context.set_default_timeout(5000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: _report_csp_violation(message, errors))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def background_worker(monkeypatch):
    """Run each queued task in a thread, as a worker would, so the page sees the run queued, running and done."""
    from django.db import connection

    from evaluation.tasks import training_run_task

    threads: list[threading.Thread] = []

    def run(run_id: int) -> None:
        try:
            training_run_task.apply(args=(run_id,))
        finally:
            connection.close()

    def delay(run_id: int) -> None:
        thread = threading.Thread(target=run, args=(run_id,), daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(training_run_task, "delay", delay)
    yield
    for thread in threads:
        thread.join(timeout=60)
