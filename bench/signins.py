"""`python -m bench.signins [--days 7] [--accounts 10]`: browser sign-ins a simulated day needs,
with and without cookie rotation and keep-alive (issue 8 §1). Never run by the test suite.

Time is compressed by a shared fake clock, not by shortening lifetimes: the simulator (its real
Flask app, over real HTTP on 127.0.0.1, in a thread of this process) and the proxy's own pieces
(store, snapshot, pool, token source with rotation, keep-alive, the refresher's `due()`) all
read the same clock, which moves in one-minute steps. Each step: the keep-alive runs, the
refresher's due() decides which accounts need a sign-in, and the scenario's requests go through
pool.acquire -> widgetCreateSession -> widgetStreamAssist -> succeeded/failed, as a chat does.

What is modelled, not run: a sign-in. When due() asks for one it is counted and done at once
(the simulator hands the account a fresh pair, as its sign-in pages would, and the proxy stores
it, as login.py would); a real one takes a minute or two of Chromium and a mailed code.

The simulator's defaults decide the outcome, and they are choices, not facts (simulator
README, "Cookie rotation"): rotation due after 1 h, a pair dies 24 h after it was handed out
(§10.1), rotation slides that expiry (§13 Q12 "sliding"; --fixed for the other answer).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
from dataclasses import dataclass

from werkzeug.serving import make_server

import simulator
from app.accounts.keepalive import KeepAlive
from app.accounts.pool import AccountPool
from app.accounts.records import Accounts, Record
from app.accounts.refresh import Refresher
from app.accounts.renewal import Renewal
from app.accounts.snapshot import Snapshot
from app.config import Config
from app.store.sqlite import SqliteStore
from app.upstream import errors
from app.upstream.client import GeminiBusiness
from simulator.logins import new_cookies
from tests.servers import free_port

DAY = 86400
STEP = 60
UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
START = 1_796_342_400.0  # a Monday 00:00 UTC (2026-12-07)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def office_hours(minute_of_week: int) -> int:
    """Requests in this minute: one every 5 min, Monday to Friday 09:00-18:00."""
    day, minute = divmod(minute_of_week, 1440)
    return int(day < 5 and 9 * 60 <= minute < 18 * 60 and minute % 5 == 0)


def round_the_clock(minute_of_week: int) -> int:
    return int(minute_of_week % 10 == 0)


def idle(minute_of_week: int) -> int:
    return 0


SCENARIOS = {"office hours (Mon-Fri 09-18, 1 request / 5 min)": office_hours,
             "round the clock (1 request / 10 min)": round_the_clock,
             "idle reserve (no requests)": idle}
POLICIES = {"before (302 = dead, no keep-alive)": ("dead", 0),
            "rotation followed, keep-alive off": ("rotate", 0),
            "rotation followed, keep-alive 3600 s": ("rotate", 3600)}


@dataclass
class Outcome:
    signins: int = 0
    requests: int = 0
    failed: int = 0
    rotations: int = 0


def refuse_rotation(account, rotate):
    """What the proxy did before: a refreshcookies 302 is dead cookies."""
    raise errors.CookieExpired("the account's cookies need refreshing", status=302, reason="refreshcookies")


def run(policy: str, keepalive_interval: float, traffic, days: int, accounts_count: int, fixed: bool) -> Outcome:
    clock = Clock(START)
    records = [{"id": f"acct{n}@example.com", "secure_c_ses": f"cookie-{n}", "csesidx": str(900000 + n),
                "config_id": UUID, "expires_at": START + DAY} for n in range(accounts_count)]
    sim_app = simulator.create_app({"ttfb": 0, "chunk_delay": 0, "piece_delay": 0, "reply_words": 3,
                                    "cookie_expiry_slides": not fixed}, records)
    state = sim_app.extensions["simulator"]
    state.clock = clock
    for account in state.accounts.all():
        account.issued_at = START
    port = free_port()
    server = make_server("127.0.0.1", port, sim_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as data:
        config = Config.from_env({"GEMINI_BUSINESS_URL": f"http://127.0.0.1:{port}",
                                  "API_BASE_URL": f"http://127.0.0.1:{port}/v1alpha",
                                  "AUTH_URL": f"http://127.0.0.1:{port}", "DATA_DIR": data})
        store = SqliteStore(f"{data}/state.db", clock=clock)
        accounts = Accounts(store, clock=clock)
        for record in records:
            accounts.save(Record(id=record["id"], email=record["id"], secure_c_ses=record["secure_c_ses"],
                                 csesidx=record["csesidx"], config_id=UUID, cookie_expires_at=START + DAY))
        snapshot = Snapshot(accounts)
        renew = Renewal(accounts, clock=clock) if policy == "rotate" else refuse_rotation
        upstream = GeminiBusiness(config, clock=clock, renew=renew)
        pool = AccountPool(accounts, clock=clock, snapshot=snapshot)
        refresher = Refresher(accounts, store, config, clock=clock, snapshot=snapshot)
        keepalive = KeepAlive(accounts, snapshot, upstream.tokens.refresh, keepalive_interval, clock=clock)
        for minute in range(days * 1440):
            clock.now = START + minute * STEP
            view = snapshot.current()
            for record, account_state in view:
                if refresher.due(record, account_state, clock.now):
                    outcome.signins += 1
                    sign_in(state, accounts, record, clock.now)
            if keepalive_interval:
                keepalive._run(keepalive.due(clock.now))
            for _ in range(traffic(minute % (7 * 1440))):
                outcome.requests += 1
                outcome.failed += not chat(pool, upstream, config.failover_attempts)
        outcome.rotations = sum(a.rotations for a in state.accounts.all())
        store.close()
    server.shutdown()
    return outcome


def sign_in(state, accounts: Accounts, record: Record, now: float) -> None:
    """A browser sign-in, modelled: the upstream hands out a fresh pair, the proxy stores it."""
    fresh = new_cookies(now, state.settings.cookie_lifetime)
    state.accounts.get(record.csesidx).renew(fresh)
    accounts.change(record.id, secure_c_ses=fresh.secure_c_ses, host_c_oses=fresh.host_c_oses,
                    cookie_expires_at=fresh.expires_at, source="login")
    accounts.change_state(record.id, needs_login=False, needs_login_reason="")


def chat(pool: AccountPool, upstream: GeminiBusiness, attempts: int) -> bool:
    """One chat as app/chat.py makes it: another account after a failure, up to `attempts`."""
    tried: set[str] = set()
    while len(tried) < attempts:
        try:
            account = pool.acquire(tried)
        except errors.AccountUnavailable:
            return False
        try:
            session = upstream.create_session(account)
            for _ in upstream.stream_assist(account, session, "hello", None):
                pass
        except errors.UpstreamError as exc:
            pool.release(account)
            pool.failed(account, exc)
            tried.add(account.id)
            continue
        pool.release(account)
        pool.succeeded(account)
        return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signins", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--fixed", action="store_true", help="rotation never moves a pair's expiry (§13 Q12)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per simulated call otherwise
    logging.getLogger("gbp").setLevel(logging.ERROR)  # the proxy's warnings are counted, not printed
    results = []
    for scenario, traffic in SCENARIOS.items():
        for name, (policy, interval) in POLICIES.items():
            outcome = run(policy, interval, traffic, args.days, args.accounts, args.fixed)
            results.append({"scenario": scenario, "policy": name, "days": args.days, "accounts": args.accounts,
                            "signins": outcome.signins, "signins_per_day": round(outcome.signins / args.days, 1),
                            "requests": outcome.requests, "failed_requests": outcome.failed,
                            "rotations": outcome.rotations})
            print(json.dumps(results[-1]) if args.json else
                  f"{scenario:<48} {name:<40} sign-ins {outcome.signins:>4} "
                  f"({outcome.signins / args.days:5.1f}/day)  requests {outcome.requests:>5} "
                  f"failed {outcome.failed:>3}  rotations {outcome.rotations:>5}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
