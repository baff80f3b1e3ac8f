"""Browser tests: the admin in a real Chromium (Debian's `chromium`), against `live_server`.

- Chromium is Debian's package (`.ci/run` installs it when missing), launched by path: nothing is
  downloaded. Where no Chromium exists the tests are skipped, saying so.
- They run on SQLite only (`make test-sqlite`); on PostgreSQL they are skipped, to keep
  `make test` short: what they check is the screens, which do not depend on the engine.
- The server runs in a thread of the test process (`live_server`); data is made through the
  services in `transaction=True` tests, so the server sees it.
- Every page's console is recorded: a journey ends by asserting there was no console error.
  When a test fails, a full-page screenshot and the console log are saved under
  `test-results/browser/` (ignored by git).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"
PASSWORD = "browser-test-password"

# Playwright's sync API runs an event loop in this thread; the tests' own ORM calls (setting
# up data, checking what was written) are ordinary synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    mine = [item for item in items if Path(str(item.fspath)).is_relative_to(here)]
    if not mine:
        return
    from django.conf import settings

    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    elif settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        reason = "browser tests run on SQLite only (make test-sqlite): they check screens"
    if reason:
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def console(page, request):
    """The page's console errors and uncaught exceptions, as text; saved with a screenshot
    when the test fails."""
    lines: list[str] = []
    errors: list[str] = []

    def on_console(message):
        lines.append(f"{message.type}: {message.text}")
        if message.type == "error":
            errors.append(message.text)

    def on_error(exc):
        lines.append(f"pageerror: {exc}")
        errors.append(str(exc))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.set_default_timeout(15_000)
    yield errors
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        RESULTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
        finally:
            (RESULTS / f"{name}.console.log").write_text(
                f"url: {page.url}\n" + "\n".join(lines) + "\n", encoding="utf-8"
            )


@pytest.fixture
def staff(transactional_db, role_groups):
    """`staff(role)`: a staff user of that role (None: superuser) who can log in."""
    from members.staff import staff_user_ensure

    def _make(role: str | None, username: str | None = None):
        username = username or (role or "admin").lower().replace(" ", "")
        user, _ = staff_user_ensure(
            username=username, password=PASSWORD, role=role, superuser=role is None
        )
        return user

    return _make


@pytest.fixture
def login(page, live_server, console):
    """`login(user)`: log in through the admin's login page."""

    def _login(user):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    return _login
