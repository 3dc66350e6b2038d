"""python -m app.accounts: the admin API's actions without HTTP, on the store the server uses."""
import json
import os
import subprocess
import sys

from tests.servers import ROOT

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"


def cli(tmp_path, *args, stdin=None, env=None):
    env = {**os.environ, "ENV_FILE": "/nonexistent", "DATA_DIR": str(tmp_path), "AUTO_LOGIN": "false", **(env or {})}
    return subprocess.run([sys.executable, "-m", "app.accounts", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_add_list_update_code_delete(tmp_path):
    accounts = [{"id": "cli1@example.com", "secure_c_ses": "cli-cookie-canary", "csesidx": "1", "config_id": UUID},
                {"id": "cli2@example.com"}]
    added = cli(tmp_path, "add", "-", stdin=json.dumps(accounts))
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"added": ["cli1@example.com", "cli2@example.com"], "updated": []}

    listed = cli(tmp_path, "list")
    assert "cli1@example.com" in listed.stdout and "active" in listed.stdout and "needs_login" in listed.stdout
    rows = {row["id"]: row for row in json.loads(cli(tmp_path, "list", "--json").stdout)}
    assert rows["cli2@example.com"]["state"] == "needs_login"
    assert "cli-cookie-canary" not in listed.stdout + json.dumps(rows)

    disabled = cli(tmp_path, "update", "cli1@example.com", "--disable")
    assert disabled.returncode == 0 and "disabled" in disabled.stdout
    changed = cli(tmp_path, "update", "cli1@example.com", "--enable", "--set", "csesidx=77")
    assert json.loads(cli(tmp_path, "list", "--json").stdout)[0]["csesidx"] == "77" and changed.returncode == 0

    code = cli(tmp_path, "code", "cli2@example.com", "ab12cd")
    assert code.returncode == 0 and "stored" in code.stdout  # no sign-in runs: kept for the next one
    from app.accounts.handoff import take_code
    from app.store.sqlite import SqliteStore
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        assert take_code(store, "cli2@example.com", since=0) == "AB12CD"
    finally:
        store.close()

    assert cli(tmp_path, "delete", "cli2@example.com").returncode == 0
    assert [r["id"] for r in json.loads(cli(tmp_path, "list", "--json").stdout)] == ["cli1@example.com"]


def test_bad_input_is_a_clear_message_and_exit_code(tmp_path):
    for args, stdin, message in ((("add", "-"), "{broken", "Expecting"),
                                 (("add", "-"), json.dumps({"secure_c_ses": "x"}), "csesidx"),
                                 (("add", "-"), '{"id": "n@example.com", "expires_at": NaN}', "NaN"),
                                 (("add", "-"), '{"id": "team/n@example.com"}', "cannot be an account id"),
                                 (("delete", "nobody@example.com"), None, "no account"),
                                 (("update", "nobody@example.com", "--disable"), None, "no account"),
                                 (("code", "nobody@example.com", "ABCDEF"), None, "no account")):
        result = cli(tmp_path, *args, stdin=stdin)
        assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_list_shows_each_kind_an_account_cannot_serve(tmp_path):
    import time

    from app.accounts.quota import ResetClock
    from app.accounts.records import Accounts
    from app.store.sqlite import SqliteStore

    account = {"id": "kinds@example.com", "secure_c_ses": "kinds-cookie", "csesidx": "2", "config_id": UUID}
    assert cli(tmp_path, "add", "-", stdin=json.dumps(account)).returncode == 0
    reset = ResetClock("Asia/Tokyo", 5).next_reset(time.time())
    store = SqliteStore(str(tmp_path / "state.db"))
    try:
        Accounts(store).change_state("kinds@example.com", kind_cooldowns={"image": reset},
                                     cooldown_causes={"image": "quota"})
    finally:
        store.close()
    listed = cli(tmp_path, "list", env={"QUOTA_RESET_TZ": "Asia/Tokyo", "QUOTA_RESET_HOUR": "5"})
    lines = listed.stdout.splitlines()
    assert "active" in lines[1], "text still works"
    assert lines[2].strip() == f"image quota spent until {ResetClock('Asia/Tokyo').label(reset)}"
    assert lines[2].strip().endswith(" 05:00 JST")


def test_an_accounts_outbound_proxy(tmp_path):
    """Set with the import or `update --proxy`, shown masked, kept by a re-import that names none."""
    account = {"id": "px@example.com", "secure_c_ses": "px-cookie", "csesidx": "5", "config_id": UUID,
               "proxy": "socks5h://op:cli-proxy-pw-77@127.0.0.1:1080"}
    assert cli(tmp_path, "add", "-", stdin=json.dumps(account)).returncode == 0
    listed = cli(tmp_path, "list")
    assert "[proxy socks5h://op:***@127.0.0.1:1080]" in listed.stdout and "cli-proxy-pw-77" not in listed.stdout
    again = {key: value for key, value in account.items() if key != "proxy"} | {"secure_c_ses": "px-cookie-2"}
    assert cli(tmp_path, "add", "-", stdin=json.dumps(again)).returncode == 0
    assert json.loads(cli(tmp_path, "list", "--json").stdout)[0]["proxy"] == "socks5h://op:***@127.0.0.1:1080"
    changed = cli(tmp_path, "update", "px@example.com", "--proxy", "http://u:pw2@10.0.0.1:3128")
    assert changed.returncode == 0 and "[proxy http://u:***@10.0.0.1:3128]" in changed.stdout
    assert cli(tmp_path, "update", "px@example.com", "--proxy", "none").returncode == 0
    assert json.loads(cli(tmp_path, "list", "--json").stdout)[0]["proxy"] == "none"
    bad = cli(tmp_path, "update", "px@example.com", "--proxy", "ftp://x:1")
    assert bad.returncode == 1 and "proxy must start with" in bad.stderr
