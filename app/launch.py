"""`python -m app.launch`: what ./run.sh starts, the demo or the real upstream.

The demo (the bundled simulator and its demo account) runs only when no account source of any
kind is configured: no cookies or email in the environment, no ACCOUNTS_FILE, and no account in
the configured store. Anything else means a real account exists, and its cookies must never be
sent to a local fake, so the proxy talks to the real upstream at API_BASE_URL.

Prints `name=value` lines for run.sh (mode, ports, upstream, why); a bad setting or a store that
cannot be read exits 2 with a message, so run.sh stops before starting anything.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from .accounts import sources
from .config import Config, ConfigError
from .store import StoreUnavailable, open_store
from .store.sqlite import SqliteStore

SHOWN_IDS = 3  # account ids named in the banner before "and N more"


@dataclass(frozen=True)
class Launch:
    demo: bool
    sources: tuple[str, ...]  # the account sources found, for the banner ("" when demo)


def decide(config: Config) -> Launch:
    """Demo only when no account source is configured anywhere (ConfigError if one cannot be read)."""
    found = []
    configured = sources.from_config(config)  # the same reading the proxy does at start (ConfigError if unusable)
    if any(record.source == "env" for record in configured):
        found.append(f"the environment's account ({config.account_email or 'GEMINI_BUSINESS_* cookies'})")
    if config.accounts_file:
        found.append(f"ACCOUNTS_FILE {config.accounts_file} "
                     f"({sum(record.source == 'file' for record in configured)} accounts)")
    stored = stored_account_ids(config)
    if stored:
        named = ", ".join(stored[:SHOWN_IDS]) + (f" and {len(stored) - SHOWN_IDS} more" if len(stored) > SHOWN_IDS else "")
        found.append(f"{len(stored)} account{'s' * (len(stored) != 1)} in the store ({named})")
    return Launch(demo=not found, sources=tuple(found))


def stored_account_ids(config: Config) -> list[str]:
    """Ids of the accounts in the configured store; never creates a store that does not exist."""
    from .accounts.records import CREDENTIALS

    url = config.store_url
    scheme = urlsplit(url).scheme if url else ""
    if scheme in ("", "sqlite"):
        path = urlsplit(url).path if scheme else os.path.join(config.data_dir, "state.db")
        if not os.path.exists(path):
            return []
        store = SqliteStore(path)
    else:
        store = open_store(config)
    try:
        return sorted(store.list(CREDENTIALS))
    except StoreUnavailable as exc:
        raise ConfigError(f"STORE_URL cannot be read, so it is unknown whether it holds accounts: {exc}") from None
    finally:
        store.close()


def main() -> int:
    try:
        config = Config.from_env()
        launch = decide(config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"mode={'demo' if launch.demo else 'real'}")
    print(f"port={config.server_port}")
    print(f"simulator_port={config.simulator_port}")
    print(f"upstream={config.api_base_url}")
    print(f"sources={'; '.join(launch.sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
