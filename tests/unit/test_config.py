"""Config: seed README names and defaults; bad values fail naming the variable."""
import pytest

from app.config import AUTO_MODEL, Config, ConfigError

ACCOUNT = {"GEMINI_BUSINESS_SECURE_C_SES": "c", "GEMINI_BUSINESS_CSESIDX": "123",
           "GEMINI_BUSINESS_CONFIG_ID": "d06739ca-6683-46db-bb51-07395a392439"}


def test_defaults_follow_the_seed_readme():
    config = Config.from_env({})
    assert (config.server_address, config.server_port) == ("0.0.0.0", 8080)
    assert config.gemini_business_url == "https://business.gemini.google"
    assert config.api_base_url == "https://biz-discoveryengine.googleapis.com/v1alpha"
    assert config.auth_url == "https://auth.business.gemini.google"
    assert config.session_timeout == 1800
    assert config.openai_compatible is True
    assert config.api_key_header == "Authorization"
    assert config.default_model == AUTO_MODEL == "gemini-business"
    assert (config.log_level, config.log_format) == ("INFO", "json")
    assert not config.client_auth_enabled and not config.has_credentials


def test_seed_names_and_aliases_are_read():
    config = Config.from_env({**ACCOUNT, "PORT": "9000", "GEMINI_BUSINESS_EMAIL": "me@example.com",
                              "LOG_LEVEL": "warn", "LOG_FORMAT": "text", "OPENAI_COMPATIBLE": "false",
                              "API_KEYS": "k1, k2,", "JWT_SECRET": "s", "SESSION_TIMEOUT": "60"})
    assert config.server_port == 9000
    assert config.account_email == "me@example.com"
    assert (config.log_level, config.log_format) == ("WARNING", "text")
    assert config.openai_compatible is False
    assert config.api_keys == ("k1", "k2")
    assert config.has_credentials and config.client_auth_enabled
    assert set(config.secrets()) == {"c", "s", "k1", "k2"}


def test_server_port_wins_over_port_and_account_email_over_gemini_business_email():
    config = Config.from_env({"SERVER_PORT": "8081", "PORT": "9000",
                              "ACCOUNT_EMAIL": "a@x", "GEMINI_BUSINESS_EMAIL": "b@x"})
    assert (config.server_port, config.account_email) == (8081, "a@x")


@pytest.mark.parametrize("env,variable", [
    ({"SERVER_PORT": "eighty"}, "SERVER_PORT"),
    ({"PORT": "70000"}, "PORT"),
    ({"SESSION_TIMEOUT": "0"}, "SESSION_TIMEOUT"),
    ({"OPENAI_COMPATIBLE": "maybe"}, "OPENAI_COMPATIBLE"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"API_BASE_URL": "ftp://x"}, "API_BASE_URL"),
    ({"GEMINI_BUSINESS_URL": "not a url"}, "GEMINI_BUSINESS_URL"),
    ({"DEFAULT_MODEL": "gpt-4o"}, "DEFAULT_MODEL"),
    ({"MODEL_ALIASES": "gpt-4o"}, "MODEL_ALIASES"),
    ({"MODEL_ALIASES": "gpt-4o=nothing"}, "MODEL_ALIASES"),
    ({"GEMINI_BUSINESS_CSESIDX": "12a", "GEMINI_BUSINESS_SECURE_C_SES": "c"}, "GEMINI_BUSINESS_CSESIDX"),
    ({"GEMINI_BUSINESS_SECURE_C_SES": "c"}, "GEMINI_BUSINESS_CSESIDX"),
    ({"GEMINI_BUSINESS_SECURE_C_SES": "c", "GEMINI_BUSINESS_CSESIDX": "1"}, "GEMINI_BUSINESS_CONFIG_ID"),
    ({"API_KEY_HEADER": "bad header"}, "API_KEY_HEADER"),
    ({"KEEPALIVE_INTERVAL": "0"}, "KEEPALIVE_INTERVAL"),
    ({"MAX_REQUEST_MB": "-1"}, "MAX_REQUEST_MB"),
    ({"MAX_FILE_MB": "0"}, "MAX_FILE_MB"),
])
def test_bad_values_fail_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(env)


def test_max_file_mb_is_the_fetched_file_cap_in_bytes():
    assert Config.from_env({}).max_file_bytes == 20 * 1024 * 1024
    assert Config.from_env({"MAX_FILE_MB": "3"}).max_file_bytes == 3 * 1024 * 1024


def test_default_aliases_send_openai_names_to_the_default_model():
    config = Config.from_env({"DEFAULT_MODEL": "gemini-2.5-pro"})
    aliases = dict(config.model_aliases)
    assert aliases["gpt-3.5*"] == aliases["gpt-4*"] == aliases["o3*"] == "gemini-2.5-pro"


def test_model_aliases_setting_replaces_the_defaults():
    config = Config.from_env({"MODEL_ALIASES": "GPT-4O=gemini-2.5-flash, fast=gemini-2.5-flash"})
    assert config.model_aliases == (("gpt-4o", "gemini-2.5-flash"), ("fast", "gemini-2.5-flash"))


def test_models_setting_changes_the_catalogue():
    config = Config.from_env({"MODELS": "gemini-9-ultra", "DEFAULT_MODEL": "gemini-9-ultra"})
    assert config.upstream_models == ("gemini-9-ultra",)
