"""Email + one-time-code sign-in with a real browser (upstream-protocol.md §11.1).

`sign_in` opens the login page in a fresh Chromium context, submits the email, waits for
the mailed code (from a CodeSource), enters it, creates the account on a first sign-in,
and reads config_id and csesidx from the home URL and the two cookies from the jar.
Every failure page of §11.1 becomes a SignInError with a short `reason`.

It runs in a plain process (Playwright's sync API; not under gevent). The driver is
Playwright or Patchright (the same API with fewer automation traces). Cookie values never
reach a log line, a progress detail or an error message.
"""
from __future__ import annotations

import importlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

from .mailbox import CodeSource
from .signin_flow import REASONS, Flow, SignInError, SignInResult, first_line

__all__ = ["BrowserSettings", "REASONS", "SignInError", "SignInResult", "sign_in"]

log = logging.getLogger("gbp.accounts.signin")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run",
                 "--disable-blink-features=AutomationControlled"]


@dataclass(frozen=True)
class BrowserSettings:
    executable: str = "/usr/bin/chromium"
    headless: bool = True
    proxy: str | None = None
    driver: str = "playwright"  # or "patchright" when installed


def sign_in(email: str, *, auth_url: str, business_url: str, codes: CodeSource,
            browser: BrowserSettings, progress: Callable[[str, str], None] = lambda s, d: None,
            timeout: float = 300.0, code_wait: float = 120.0, resends: int = 2,
            new_account_name: str = "gemini-business-proxy") -> SignInResult:
    """Signs `email` in and returns its fresh credentials; raises SignInError.

    `progress(step, detail)` hears "browser", "email", "waiting_for_code" (again after
    each Resend or wrong code), "verifying" (again for the account creation) and "done";
    an exception it raises ends the sign-in (the browser still closes). `timeout` bounds
    the whole sign-in, `code_wait` each wait for a code; after a fruitless wait the code
    page's Resend is pressed, at most `resends` times.
    """
    _refuse_gevent()
    driver = _driver(browser.driver)
    deadline = time.time() + timeout
    log.info("sign-in of %s: browser (starting Chromium)", email)
    progress("browser", f"starting Chromium ({browser.driver})")
    try:
        with driver.sync_playwright() as playwright:
            instance = _launch(playwright, browser, driver)
            try:
                flow = Flow(instance, email, auth_url.rstrip("/"), business_url.rstrip("/"),
                             codes, progress, deadline, code_wait, resends, new_account_name)
                return flow.run(browser.headless)
            finally:
                instance.close()
    except driver.TimeoutError as exc:
        raise SignInError("timeout", first_line(exc)) from None
    except driver.Error as exc:
        raise SignInError("browser", first_line(exc)) from None


def _refuse_gevent() -> None:
    """Playwright's sync API runs its own event loop in greenlets; under gevent's patched
    sockets it hangs. Callers start a plain process for it."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        raise SignInError("browser", "sign_in cannot run in a gevent-patched process")


def _driver(name: str):
    if name not in ("playwright", "patchright"):
        raise SignInError("browser", f"unknown browser driver {name!r}")
    try:
        return importlib.import_module(f"{name}.sync_api")
    except ImportError:
        raise SignInError("browser", f"{name} is not installed") from None


def playwright_proxy(url: str) -> dict:
    """Playwright's proxy option: the server without its credentials, which go apart (Chromium
    answers the proxy's 407 with them). socks5h is socks5 there: Chromium always resolves names
    through a SOCKS5 proxy. Loopback goes through the proxy too (Playwright's default)."""
    parts = urlsplit(url)
    scheme = "socks5" if parts.scheme.lower() == "socks5h" else parts.scheme.lower()
    if scheme == "socks5" and parts.username:
        raise SignInError("browser", "Chromium cannot send a SOCKS5 proxy's password: give the account an "
                                     "HTTP proxy while it signs in, or import cookies signed in elsewhere")
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    option = {"server": f"{scheme}://{host}:{parts.port}" if parts.port else f"{scheme}://{host}"}
    if parts.username:
        option.update(username=unquote(parts.username), password=unquote(parts.password or ""))
    return option


def _launch(playwright, settings: BrowserSettings, driver):
    options = {"executable_path": settings.executable, "headless": settings.headless,
               "args": CHROMIUM_ARGS}
    if settings.proxy:
        options["proxy"] = playwright_proxy(settings.proxy)
    try:
        return playwright.chromium.launch(**options)
    except driver.Error as exc:
        raise SignInError("browser", f"cannot start {settings.executable}: "
                                     f"{first_line(exc)}") from None
