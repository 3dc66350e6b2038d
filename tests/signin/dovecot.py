"""A throwaway IMAP server: dovecot in the foreground with a config written into a temp dir.

One test user (any name logs in with PASSWORD: a static passdb) whose INBOX is a Maildir the test (or the simulator's --maildir) writes
into. Plain IMAP on a free loopback port, cleartext login allowed, everything it writes
(sockets, state, log) under the temp dir. Works as root (CI) and as a normal user.

Other test folders use it with `from tests.signin.dovecot import dovecot` (a fixture) or
by calling `start_dovecot(tmp_dir)` themselves.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

from tests.servers import free_port

USER = "codes@example.test"
PASSWORD = "imap-test-password-4711"


class Dovecot(NamedTuple):
    host: str
    port: int
    user: str
    password: str
    maildir: str  # the user's INBOX: deliver into <maildir>/new
    stop: Callable[[], None]


def binary() -> str:
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(found):
        pytest.fail("dovecot is not installed: apt-get install dovecot-imapd (./test.sh does it as root)")
    return found


def _version(executable: str) -> tuple[int, int]:
    out = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout
    match = re.match(r"(\d+)\.(\d+)", out.strip())
    return (int(match[1]), int(match[2])) if match else (2, 3)


def _users() -> tuple[str, str]:
    """Who dovecot's own processes run as: its package users as root, else ourselves."""
    if os.getuid() == 0:
        try:
            pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
            return "dovecot", "dovenull"
        except KeyError:
            return "root", "root"
    me = pwd.getpwuid(os.getuid()).pw_name
    return me, me


def _mail_owner() -> tuple[int, int]:
    """Whose files the mail is: dovecot refuses uid 0 for mail, so as root it is nobody's."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _config(tmp: Path, port: int, mail: Path, v24: bool) -> str:
    # The auth process runs as the internal user and may not see into a 0700 temp dir,
    # so the password is in the config (a static passdb), not in a passwd file.
    internal, login = _users()
    uid, gid = _mail_owner()
    maildir = mail / "Maildir"
    common = f"""
base_dir = {tmp}/run
state_dir = {tmp}/state
instance_name = dovecot-test-{port}
listen = 127.0.0.1
protocols = imap
ssl = no
log_path = {tmp}/dovecot.log
auth_failure_delay = 0
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
# No growing delay for an address after a failed login (a test tries a wrong password):
# the auth process cannot reach anvil's penalty socket, so it keeps no penalties.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    if v24:  # 2.4 renamed most of these; untested here (Debian 12 ships 2.3)
        return f"""dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{common}
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = {maildir}
mail_inbox_path = {maildir}
passdb static {{
  password = {PASSWORD}
}}
userdb static {{
  fields {{
    uid = {uid}
    gid = {gid}
    home = {mail}/home
  }}
}}
"""
    return f"""{common}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{maildir}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/home
}}
"""


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(100).startswith(b"* OK")
    except OSError:
        return False


def start_dovecot(tmp_dir) -> Dovecot:
    """Starts dovecot -F with a config under tmp_dir; returns where and how to log in."""
    executable = binary()
    tmp = Path(tmp_dir)
    port = free_port()
    for path in (tmp / "run", tmp / "state"):
        path.mkdir(parents=True, exist_ok=True)
    # The mail processes run as an unprivileged user (see _mail_owner): its Maildir lives
    # in a directory of its own that this user can reach (a pytest temp dir is 0700).
    mail = Path(tempfile.mkdtemp(prefix="dovecot-mail-"))
    os.chmod(mail, 0o711)
    uid, gid = _mail_owner()
    for path in (mail / "home", mail / "Maildir", *(mail / "Maildir" / d for d in ("new", "cur", "tmp"))):
        path.mkdir()
        os.chown(path, uid, gid)
    conf = tmp / "dovecot.conf"
    conf.write_text(_config(tmp, port, mail, _version(executable) >= (2, 4)))
    process = subprocess.Popen([executable, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()  # the master stops its children itself
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        shutil.rmtree(mail, ignore_errors=True)

    deadline = time.monotonic() + 15
    while not _greets(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            log = (tmp / "dovecot.log").read_text() if (tmp / "dovecot.log").exists() else ""
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"dovecot did not start:\n{output}\n{log}")
        time.sleep(0.05)
    return Dovecot("127.0.0.1", port, USER, PASSWORD, str(mail / "Maildir"), stop)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory):
    server = start_dovecot(tmp_path_factory.mktemp("dovecot"))
    yield server
    server.stop()
