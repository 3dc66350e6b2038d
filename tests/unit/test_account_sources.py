"""Account import formats: the niche's export format, browser cookie exports, an email alone."""
import json
from datetime import datetime, timezone

import pytest

from app.accounts.sources import InvalidAccount, from_config, parse
from app.config import Config, ConfigError

UUID = "d06739ca-6683-46db-bb51-07395a392439"


def test_the_import_format_other_tools_export():
    [record] = parse([{"id": "a@example.com", "secure_c_ses": "S", "host_c_oses": "H", "csesidx": "123",
                       "config_id": UUID, "expires_at": "2026-11-26 20:00:00"}])
    assert (record.id, record.email, record.secure_c_ses, record.host_c_oses) == ("a@example.com", "a@example.com", "S", "H")
    assert (record.csesidx, record.config_id) == ("123", UUID)
    # Naive times in that format are Beijing time (UTC+8).
    assert record.cookie_expires_at == datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc).timestamp()


def test_optional_fields_and_a_single_object():
    [record] = parse({"id": "b@example.com", "secure_c_ses": "S", "csesidx": 9, "config_id": UUID})
    assert record.host_c_oses == "" and record.cookie_expires_at is None and record.csesidx == "9"


def test_a_browser_cookie_export():
    [record] = parse({"email": "c@example.com", "csesidx": "77", "config_id": UUID, "cookies": [
        {"name": "NID", "value": "ignored"},
        {"name": "__Secure-C_SES", "value": "CSE.x", "expirationDate": 1800000000.5, "domain": ".business.gemini.google"},
        {"name": "__Host-C_OSES", "value": "COS.y"}]})
    assert (record.secure_c_ses, record.host_c_oses, record.cookie_expires_at) == ("CSE.x", "COS.y", 1800000000.5)


def test_a_cookie_header():
    [record] = parse({"id": "d@example.com", "csesidx": "5", "config_id": UUID,
                      "cookie": "NID=1; __Secure-C_SES=CSE.z; __Host-C_OSES=COS.w"})
    assert (record.secure_c_ses, record.host_c_oses) == ("CSE.z", "COS.w")


def test_an_email_alone_is_an_account_to_sign_in():
    [record] = parse({"id": "e@example.com"})
    assert record.email == "e@example.com" and not record.has_cookies


@pytest.mark.parametrize("payload,field", [
    ([], "nothing"),
    (["x"], "[0] must be a JSON object"),
    ({"secure_c_ses": "S"}, "csesidx"),
    ({"id": "a@x", "secure_c_ses": "S", "csesidx": "12", "config_id": "bad uuid!"}, "config_id"),
    ({"id": "a@x", "secure_c_ses": "S", "csesidx": "12a", "config_id": UUID}, "csesidx"),
    ({"id": "a@x", "secure_c_ses": 5, "csesidx": "1", "config_id": UUID}, "secure_c_ses"),
    ({"id": "a@x", "secure_c_ses": "S", "csesidx": "1", "config_id": UUID, "expires_at": "soon"}, "expires_at"),
    ({"id": "a@x", "cookies": "nope"}, "cookies"),
    ({}, "needs an id"),
    ({"id": "a@x", "expires_at": 10**400}, "expires_at must be a time between 1970 and 9999"),
    ({"id": "a@x", "expires_at": float("nan")}, "expires_at must be a time between"),
    ({"id": "a@x", "expires_at": float("inf")}, "expires_at must be a time between"),
    ({"id": "a@x", "expires_at": -5}, "expires_at must be a time between"),
    ({"id": "a@x", "csesidx": "1", "config_id": UUID, "cookies": [
        {"name": "__Secure-C_SES", "value": "v", "expirationDate": 10**400}]}, r"cookies[0].expirationDate"),
    ({"id": "a/b@x"}, "cannot be an account id"),
    ({"email": "a b@x"}, "cannot be an account id"),
    ({"id": ".."}, "cannot be an account id"),
    ({"id": "x" * 255}, "cannot be an account id"),
])
def test_bad_records_name_the_field(payload, field):
    with pytest.raises(InvalidAccount, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse(payload)


def test_env_and_accounts_file(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([{"id": "f@example.com", "secure_c_ses": "S", "csesidx": "1", "config_id": UUID}]))
    config = Config.from_env({"ACCOUNTS_FILE": str(path), "ACCOUNT_EMAIL": "env@example.com"})
    records = from_config(config)
    assert [(r.id, r.source) for r in records] == [("env@example.com", "env"), ("f@example.com", "file")]
    path.write_text("{broken")
    with pytest.raises(ConfigError, match="ACCOUNTS_FILE"):
        from_config(config)


def test_account_email_must_be_a_usable_id():
    with pytest.raises(ConfigError, match="ACCOUNT_EMAIL"):
        Config.from_env({"ACCOUNT_EMAIL": "team/a@example.com"})
    assert Config.from_env({"GEMINI_BUSINESS_EMAIL": "o'brien+x@example.com"}).account_email == "o'brien+x@example.com"


def test_accounts_file_is_read_strictly(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text('[{"id": "a@example.com", "expires_at": NaN}]')
    with pytest.raises(ConfigError, match="NaN"):
        from_config(Config.from_env({"ACCOUNTS_FILE": str(path)}))
