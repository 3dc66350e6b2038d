"""`python -m app.accounts …`: manage accounts without HTTP, straight in the store.

Reads the same settings as the server (.env, STORE_URL / DATA_DIR), so it acts on the state
the running proxy uses; every command does what the admin API does.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from .. import strict_json
from ..config import Config, for_command
from ..store import open_store
from . import handoff, login
from .quota import ResetClock
from .records import Accounts
from .refresh import Refresher
from .service import AccountAdmin, Conflict, NotFound


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.accounts", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="accounts with state, cooldown, counters (never cookie values)")
    listing.add_argument("--json", action="store_true", help="the admin API's JSON instead of a table")
    add = commands.add_parser("add", help="import accounts: a JSON file (or - for stdin) in any accepted format")
    add.add_argument("file")
    update = commands.add_parser("update", help="change an account")
    update.add_argument("id")
    update.add_argument("--disable", action="store_true")
    update.add_argument("--enable", action="store_true")
    update.add_argument("--email")
    update.add_argument("--clear-cooldown", action="store_true")
    update.add_argument("--proxy", metavar="URL",
                        help="its outbound proxy: http(s)://user:pass@host:port, socks5(h)://…, none (direct) "
                             "or '' (UPSTREAM_PROXY)")
    update.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="secure_c_ses, host_c_oses, csesidx, config_id or expires_at")
    delete = commands.add_parser("delete", help="remove an account")
    delete.add_argument("id")
    sign_in = commands.add_parser("login", help="sign an account in now, in this terminal")
    sign_in.add_argument("id")
    code = commands.add_parser("code", help="give a waiting sign-in its one-time code")
    code.add_argument("id")
    code.add_argument("code")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    config = for_command()
    if config is None:
        return 2
    store = open_store(config)
    accounts = Accounts(store)
    admin = AccountAdmin(accounts, Refresher(accounts, store, config),
                         resets=ResetClock(config.quota_reset_tz, config.quota_reset_hour))
    try:
        return _run(args, config, store, admin)
    except NotFound as exc:
        print(f"no account {exc}", file=sys.stderr)
    except (Conflict, ValueError) as exc:
        print(str(exc), file=sys.stderr)
    finally:
        store.close()
    return 1


def _run(args, config: Config, store, admin: AccountAdmin) -> int:
    if args.command == "list":
        rows = admin.list()
        print(json.dumps(rows, indent=2) if args.json else _table(rows))
    elif args.command == "add":
        text = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
        print(json.dumps(admin.add(strict_json.loads(text))))
    elif args.command == "update":
        changes = dict(field.split("=", 1) for field in args.set)
        if args.disable or args.enable:
            changes["disabled"] = args.disable
        if args.email:
            changes["email"] = args.email
        if args.clear_cooldown:
            changes["clear_cooldown"] = True
        if args.proxy is not None:
            changes["proxy"] = args.proxy
        print(_table([admin.update(args.id, changes)]))
    elif args.command == "delete":
        admin.delete(args.id)
        print(f"deleted {args.id}")
    elif args.command == "code":
        shown = admin.submit_code(args.id, args.code)
        print("code sent to the running sign-in" if shown["code_accepted_by_running_login"]
              else "code stored; it will be used by the next sign-in of this account (15 minutes)")
    elif args.command == "login":
        return _login(args.id, config, store, admin)
    return 0


def _login(account_id: str, config: Config, store, admin: AccountAdmin) -> int:
    """Sign in in the foreground; a code can be typed here or sent with `code` from elsewhere."""
    admin.show(account_id)
    owner = f"cli-{time.time_ns()}"
    if not store.acquire_lock(handoff.lock_name(account_id), owner, config.login_timeout + 60):
        print("a sign-in is already running for this account", file=sys.stderr)
        return 1
    if not handoff.take_slot(store, owner, config.login_concurrency, config.login_timeout + 60):
        store.release_lock(handoff.lock_name(account_id), owner)
        print(f"{config.login_concurrency} sign-in(s) already running, as many as LOGIN_CONCURRENCY allows; "
              "try again when one ends", file=sys.stderr)
        return 1
    print(f"signing in {account_id} (up to {config.login_timeout:.0f} s); when asked, type the code from "
          f"the email here, or run: python -m app.accounts code {account_id} <CODE>")
    if sys.stdin.isatty():
        threading.Thread(target=_read_code, args=(store, account_id), daemon=True).start()
    code = login.run(config, account_id, owner)
    print(_table([admin.show(account_id)]))
    return code


def _read_code(store, account_id: str) -> None:
    try:
        typed = input("one-time code: ").strip()
    except EOFError:
        return
    if typed:
        handoff.submit_code(store, account_id, typed.upper())


def _table(rows: list[dict]) -> str:
    now = time.time()
    lines = [f"{'id':32} {'state':13} {'cooldown':>8} {'requests':>8} {'errors':>6}  sign-in / last error"]
    for row in rows:
        cooldown = f"{row['cooldown_seconds']}s" if row["cooldown_seconds"] else "-"
        login_state = row["login"].get("status") or ""
        detail = (f"{login_state}: {row['login'].get('message') or ''}" if login_state else row["last_error"]) or ""
        if row.get("disabled_reason"):  # why it is out of rotation comes first
            detail = row["disabled_reason"]
        expires = row.get("cookie_expires_at")
        if expires:
            detail += f" (cookies expire in {max(0, expires - now) / 3600:.1f} h)"
        if row.get("proxy"):  # masked: the password never shows
            detail += f" [proxy {row['proxy']}]"
        state = "banned" if row.get("banned") else row["state"]
        lines.append(f"{row['id'][:32]:32} {state:13} {cooldown:>8} {row['requests']:>8} "
                     f"{row['errors']:>6}  {detail[:160]}")
        # A media kind can cool while the account serves text: one line per kind it cannot serve.
        lines.extend(f"{'':32}   {shown['text']}" for shown in row.get("cooldowns", {}).values())
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
