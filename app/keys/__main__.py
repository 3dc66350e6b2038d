"""`python -m app.keys create|list|show|edit|revoke`: client keys without HTTP, straight in the store
the server uses (same settings: .env, STORE_URL / DATA_DIR); each verb does what the admin API
does, with the same checks and messages (app/keys/__init__.py)."""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..config import for_command
from ..store import open_store
from . import CACHE_SECONDS, ClientKeys, NotFound


def _edit_parser(commands) -> None:
    # Options left out are absent from the namespace (SUPPRESS), so "not given" and "set to none"
    # (--no-rpm, --all-models, --never-expires) stay apart; each pair is one field, hence exclusive.
    edit = commands.add_parser("edit", argument_default=argparse.SUPPRESS,
                               help="change a key's name, models, limits or expiry (every worker applies it "
                                    f"within {CACHE_SECONDS:.0f} s); options left out stay as they are")
    edit.add_argument("id")
    edit.add_argument("--name")
    pairs = (("--model", "models", dict(action="append", metavar="NAME", help="the models (or fnmatch patterns) "
                                        "it may use, replacing its list; repeat"),
              "--all-models", [], "it may use every model"),
             ("--rpm", "rpm", dict(type=int, metavar="N", help="requests per minute"),
              "--no-rpm", None, "no request limit"),
             ("--concurrent-streams", "concurrent_streams", dict(type=int, metavar="N", help="streams open at once"),
              "--no-concurrent-streams", None, "no stream limit"),
             ("--daily-tokens", "daily_tokens", dict(type=int, metavar="N", help="estimated tokens per UTC day"),
              "--no-daily-tokens", None, "no daily budget"),
             ("--expires-in", "expires_in", dict(type=float, metavar="SECONDS", help="it stops working this long "
                                                 "from now"),
              "--never-expires", None, "it never expires"))
    for flag, dest, options, off, const, off_help in pairs:
        group = edit.add_mutually_exclusive_group()
        group.add_argument(flag, dest=dest, **options)
        group.add_argument(off, dest=dest, action="store_const", const=const, help=off_help)


def _edits(args) -> dict:
    """The fields an `edit` was given, as the admin API's PATCH body."""
    fields = {field: getattr(args, field) for field in
              ("name", "models", "rpm", "concurrent_streams", "daily_tokens") if hasattr(args, field)}
    if hasattr(args, "expires_in"):
        fields["expires_at"] = None if args.expires_in is None else time.time() + args.expires_in
    return fields


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.keys", description="manage client keys in the store")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key; its secret is printed this once")
    create.add_argument("--name", default="")
    create.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="a model (or fnmatch pattern) it may use; repeat; none: every model")
    create.add_argument("--expires-in", type=float, metavar="SECONDS", help="it stops working after this long")
    create.add_argument("--rpm", type=int, help="requests per minute (none: no limit)")
    create.add_argument("--concurrent-streams", type=int, help="streams open at once (none: no limit)")
    create.add_argument("--daily-tokens", type=int, help="estimated tokens per UTC day (none: no budget)")
    commands.add_parser("list", help="every key, never its secret")
    commands.add_parser("show", help="one key, never its secret").add_argument("id")
    _edit_parser(commands)
    revoke = commands.add_parser("revoke", help="revoke a key (every worker refuses it within "
                                                f"{CACHE_SECONDS:.0f} s)")
    revoke.add_argument("id")
    args = parser.parse_args(argv)
    if args.command == "edit" and not _edits(args):
        commands.choices["edit"].error("nothing to change: give at least one of --name, --model/--all-models, "
                                       "--rpm/--no-rpm, --concurrent-streams/--no-concurrent-streams, "
                                       "--daily-tokens/--no-daily-tokens, --expires-in/--never-expires")
    config = for_command()
    if config is None:
        return 2
    store = open_store(config)
    keys = ClientKeys(store)
    try:
        if args.command == "create":
            fields = {"name": args.name, "models": args.models or [], "rpm": args.rpm,
                      "concurrent_streams": args.concurrent_streams, "daily_tokens": args.daily_tokens}
            if args.expires_in is not None:
                fields["expires_at"] = time.time() + args.expires_in
            print(json.dumps(keys.create(fields), indent=2))
        elif args.command == "list":
            print(json.dumps(keys.list(), indent=2))
        elif args.command == "show":
            print(json.dumps(keys.show(args.id), indent=2))
        elif args.command == "edit":
            print(json.dumps(keys.edit(args.id, _edits(args)), indent=2))
        else:
            print(json.dumps(keys.revoke(args.id), indent=2))
    except NotFound as exc:
        print(f"no client key {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
