"""`python -m app.accounts.login ACCOUNT_ID --owner TOKEN`: one sign-in, in a process of its own.

A browser does not belong in a gevent worker (Playwright's sync API runs its own loop on
greenlets) and a browser crash must not take a worker down. So a worker that wins the
account's login lock starts this process, which signs in, saves the new cookies, reports its
progress in the account's state (the admin page shows it) and releases the lock at the end.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from .. import logs
from ..config import Config, for_command
from ..store import open_store
from ..upstream import proxies
from .handoff import lock_name, release_slot, take_code
from .pool import refused
from .records import Accounts

log = logging.getLogger("gbp.accounts.login")
RETRY_BASE, RETRY_MAX = 300.0, 6 * 3600.0  # failed automatic logins back off: 5 min doubling to 6 h


def code_sources(config: Config, store, account_id: str, email: str, since: float):
    from .mailbox import AnyCodeSource, CallbackCodeSource, ImapCodeSource

    sources = [CallbackCodeSource(lambda: take_code(store, account_id, since))]
    if config.imap_host:
        sources.append(ImapCodeSource(config.imap_host, config.imap_port, config.imap_user, config.imap_password,
                                      ssl=config.imap_ssl, sender=config.mail_sender, recipient=email))
    return AnyCodeSource(sources)


def run(config: Config, account_id: str, owner: str) -> int:
    from .signin import BrowserSettings, SignInError, sign_in

    store = open_store(config)
    accounts = Accounts(store)
    started = time.time()
    try:
        record = accounts.get(account_id)
        email = record and (record.email or (record.id if "@" in record.id else ""))
        if not email:
            _finish(accounts, account_id, started, "failed", "no email address to sign in with")
            return 2
        _progress(accounts, account_id, "running", "browser", "starting the browser", started)
        browser = BrowserSettings(executable=config.browser_executable, headless=config.browser_headless,
                                  proxy=browser_proxy(config, record.proxy or ""), driver=config.browser_driver)
        result = sign_in(
            email, auth_url=config.auth_url, business_url=config.gemini_business_url,
            codes=code_sources(config, store, account_id, email, started), browser=browser,
            progress=lambda step, detail: _progress(accounts, account_id, _status_of(step), step, detail, started),
            timeout=config.login_timeout, code_wait=config.login_code_wait, resends=config.login_resends)
        accounts.change(account_id, secure_c_ses=result.secure_c_ses, host_c_oses=result.host_c_oses,
                        csesidx=result.csesidx, config_id=result.config_id,
                        cookie_expires_at=result.cookie_expires_at, source="login")
        _finish(accounts, account_id, started, "succeeded", f"signed in after {time.time() - started:.0f} s")
        log.info("signed in", extra={"account": account_id, "seconds": round(time.time() - started, 1)})
        return 0
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (see main): the proxy is stopping; try again at its next start
        _stopped(accounts, account_id, started)
        log.info("sign-in stopped: the proxy is shutting down", extra={"account": account_id})
        return 130
    except SignInError as exc:
        _finish(accounts, account_id, started, "failed", f"{exc.reason}: {exc.message}")
        if exc.reason == "access_restricted":  # §11.1: the upstream refuses the account; signing in again won't help
            refused(accounts, account_id, f"upstream refused access at sign-in: {exc.message}")
        else:
            log.warning("sign-in failed: %s: %s", exc.reason, exc.message, extra={"account": account_id})
        return 1
    except Exception as exc:  # a browser that would not start, a crash: report it, never hang the lock
        _finish(accounts, account_id, started, "failed", f"browser: {type(exc).__name__}: {str(exc)[:200]}")
        log.exception("sign-in crashed", extra={"account": account_id})
        return 1
    finally:
        store.release_lock(lock_name(account_id), owner)
        release_slot(store, owner, config.login_concurrency)
        store.close()


def browser_proxy(config: Config, own: str) -> str | None:
    """The browser signs in from where the account's calls come from: its own proxy, else
    UPSTREAM_PROXY; "none" is direct. With neither set, BROWSER_PROXY (the browser's alone)."""
    if not own and not config.upstream_proxy:
        return config.browser_proxy or None
    return proxies.effective(own, config.upstream_proxy) or None


def _status_of(step: str) -> str:
    return "waiting_for_code" if step == "waiting_for_code" else "running"


def _progress(accounts: Accounts, account_id: str, status: str, step: str, detail: str, started: float) -> None:
    def mutate(state):
        login = dict(state.get("login") or {})
        login.update(status=status, step=step, message=detail, started_at=started, finished_at=None)
        state["login"] = login

    accounts.change_state(account_id, mutate)


def _stopped(accounts: Accounts, account_id: str, started: float) -> None:
    """Not a failure of the account: no back-off, so the next start signs it in at once."""
    def mutate(state):
        login = dict(state.get("login") or {})
        login.update(status="failed", message="stopped before it finished (the proxy shut down)",
                     started_at=started, finished_at=time.time(), next_attempt_at=None)
        state["login"] = login

    accounts.change_state(account_id, mutate)


def _finish(accounts: Accounts, account_id: str, started: float, outcome: str, message: str) -> None:
    now = time.time()

    def mutate(state):
        login = dict(state.get("login") or {})
        failures = 0 if outcome == "succeeded" else login.get("failures", 0) + 1
        login.update(status=outcome, message=message, started_at=started, finished_at=now, failures=failures,
                     next_attempt_at=None if outcome == "succeeded" else
                     now + min(RETRY_BASE * 2 ** (failures - 1), RETRY_MAX))
        state["login"] = login
        if outcome == "succeeded":
            state.update(needs_login=False, needs_login_reason="", cooldown_until=0, cooldown_level=0,
                         kind_cooldowns={}, cooldown_causes={})

    accounts.change_state(account_id, mutate)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.accounts.login", description=__doc__.splitlines()[0])
    parser.add_argument("account_id")
    parser.add_argument("--owner", required=True, help="the login lock token this process releases at the end")
    args = parser.parse_args(argv)
    config = for_command()
    if config is None:
        return 2
    logs.setup(config.log_level, config.log_format, config.secrets())
    # SIGTERM (the proxy or run.sh stopping) ends the sign-in as Ctrl-C does: the browser is
    # closed, the state says so and the lock is released, instead of dying mid-step.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run(config, args.account_id, args.owner)


if __name__ == "__main__":
    sys.exit(main())
