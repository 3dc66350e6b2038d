"""The secrets a log line must never carry: bounded however long the process runs, and found
wherever they sit in a line."""
import logging
import secrets

from app import logs
from app.secretset import RETIRED_MAX, SecretSet


def token() -> str:
    return secrets.token_urlsafe(30)


def test_a_long_uptime_of_new_tokens_keeps_the_set_bounded():
    box = SecretSet()
    config_key, cookie = "sk-configured-key", "cookie-of-a-quiet-account-0001"
    box.pin(config_key)
    box.put(("quiet-account", "secure_c_ses"), cookie)
    last = None
    for i in range(20_000):  # 20k upstream tokens signed for 50 accounts
        last = token()
        box.put(("upstream-token", i % 50), last)
    assert len(box) <= 2 + 50 + RETIRED_MAX
    # The configured key and a cookie registered long ago never fall out; recent tokens are in.
    line = f"k={config_key} c={cookie} t={last}!"
    assert box.redact(line) == "k=[redacted] c=[redacted] t=[redacted]!"


def test_a_replaced_value_stays_redacted_until_it_is_old():
    box = SecretSet(retired_max=3)
    box.put("slot", "first-cookie")
    box.put("slot", "second-cookie")
    assert box.redact("first-cookie second-cookie") == "[redacted] [redacted]"
    for i in range(4):  # retires three more values: the oldest retired one goes
        box.put("other", f"other-value-{i}")
    assert "first-cookie" not in box and "second-cookie" in box


def test_a_value_that_comes_back_is_counted_once():
    box = SecretSet(retired_max=2)
    for value in ("value-a", "value-b", "value-a", "value-b", "value-a"):
        box.put("slot", value)
    assert len(box) == 2
    box.put("slot", "value-c")
    box.put("slot", "value-d")  # retires c: the queue (a, b, c) drops its oldest
    assert "value-d" in box and "value-c" in box


def test_short_long_nested_and_glued_secrets_are_all_found():
    box = SecretSet()
    for value in ("abcd", "abcdefgh-long-secret", "long-secret", "x" * 200):
        box.pin(value)
    text = "[abcd] zzabcdefgh-long-secretzz __Secure-C_SES=long-secret;" + "x" * 200 + "\n"
    assert box.redact(text) == "[[redacted]] zz[redacted]zz __Secure-C_SES=[redacted];[redacted]\n"
    assert box.redact("nothing here, abc") == "nothing here, abc"


def test_log_lines_are_redacted_through_the_bounded_set(capsys):
    before = len(logs._SECRETS)  # other tests of this process register secrets of their own
    for i in range(20_000):
        logs.add_secret(token(), slot=("upstream-token", "acc"))
    logs.add_secret("cookie-registered-for-good")
    recent = token()
    logs.add_secret(recent, slot=("upstream-token", "acc"))
    assert len(logs._SECRETS) - before <= RETIRED_MAX + 2
    record = logging.LogRecord("gbp.x", logging.INFO, __file__, 1, "t=%s c=%s", (recent, "cookie-registered-for-good"),
                               None)
    line = logs.JsonFormatter().format(record)
    assert recent not in line and "cookie-registered-for-good" not in line and line.count("[redacted]") == 2
