"""Browser fixtures: Debian chromium + Playwright sync API (`browser`, `page`, `screenshot`).

Never `playwright install`; `make test` installs chromium via `make chromium`.
Mark browser tests `@pytest.mark.browser`; sign in with tests.browser.helpers.login.
Playwright's sync API marks an asyncio loop as *running* in the main thread from start() to stop(),
so Django raises SynchronousOnlyOperation for every ORM call in this thread (test bodies, the
transactional_db flush, DB teardown, later non-browser tests). No coroutine runs meanwhile, so we set
DJANGO_ALLOW_ASYNC_UNSAFE exactly while Playwright is alive and restore it afterwards."""

import contextlib
import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 900}
# Playwright already passes most of these; listed so a change of its defaults cannot break us.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]
_ENV = "DJANGO_ALLOW_ASYNC_UNSAFE"
# Every document reports its Content-Security-Policy violations to the console, where the `page`
# fixture collects them (Chromium's own "Refused to ..." console lines are collected as well).
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation (Content Security Policy): " + e.violatedDirective + " blocked " +
                (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber + " " + (e.sample || ""));
});
"""


def is_csp_violation(text: str) -> bool:
    return "Content Security Policy" in text or "Content-Security-Policy" in text


def _repo_root() -> Path:
    here = Path(__file__).resolve().parent
    return next((d for d in (here, *here.parents) if (d / "pyproject.toml").is_file()), Path.cwd())


ARTIFACTS_DIR = _repo_root() / "test-artifacts" / "screenshots"


def save_screenshot(page, name: str) -> Path:
    """Save a full-page PNG to <repo>/test-artifacts/screenshots/<name>.png."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "screenshot"
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / (safe if safe.endswith(".png") else safe + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot():
    """`screenshot(page, "dashboard")` saves test-artifacts/screenshots/dashboard.png (git-ignored)."""
    return save_screenshot


@pytest.fixture(scope="session")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Browser tests need Debian's `chromium` package: "
            "run `make test` (it installs it via `make chromium`). Do NOT run `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(_ENV)
    os.environ[_ENV] = "true"
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        yield b
        b.close()
    finally:
        pw.stop()  # the loop stops being "running" only here
        if previous is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = previous


@pytest.fixture
def csp_violations() -> list[str]:
    """The CSP violations the `page` has seen so far; the `page` fixture fails the test if any remain."""
    return []


@pytest.fixture
def page(browser, request, csp_violations):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    context.add_init_script(CSP_REPORTER)
    pg = context.new_page()
    pg.on("console", lambda message: is_csp_violation(message.text) and csp_violations.append(message.text))
    pg.on("pageerror", lambda error: is_csp_violation(str(error)) and csp_violations.append(str(error)))
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        with contextlib.suppress(Exception):  # never mask the real failure
            save_screenshot(pg, f"FAILED-{request.node.nodeid}")
    context.close()
    if csp_violations and not (rep is not None and rep.failed):
        pytest.fail(
            "Content-Security-Policy violations in the browser:\n" + "\n".join(dict.fromkeys(csp_violations)),
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
