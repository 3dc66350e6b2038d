"""`python -m app.keys create|list|revoke`: client keys without HTTP, straight in the store the
server uses (same settings: .env, STORE_URL / DATA_DIR); each verb does what the admin API does."""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..config import for_command
from ..store import open_store
from . import CACHE_SECONDS, ClientKeys, NotFound
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
    revoke = commands.add_parser("revoke", help="revoke a key (every worker refuses it within "
                                                f"{CACHE_SECONDS:.0f} s)")
    revoke.add_argument("id")
    args = parser.parse_args(argv)
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
