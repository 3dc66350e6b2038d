"""CORS_ORIGINS (app/cors.py): what a browser is told, per the Fetch spec. The browser itself
is in tests/integration/test_browser_clients.py."""
import pytest

from app import create_app
from app.config import Config, ConfigError

PAGE = "https://chat.example.com"
CHAT = "/v1/chat/completions"


def client(tmp_path, **env):
    config = Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "API_KEYS": "sk-k",
                              "ADMIN_KEY": "adm", **env})
    return create_app(config).test_client()


def preflight(client, path=CHAT, origin=PAGE, headers="authorization, content-type"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": headers})


def test_the_setting_takes_origins_or_a_lone_star():
    assert Config.from_env({"CORS_ORIGINS": "https://A.example.com, http://localhost:3000/"}).cors_origins == (
        "https://a.example.com", "http://localhost:3000")
    assert Config.from_env({"CORS_ORIGINS": "*"}).cors_origins == ("*",)
    assert Config.from_env({}).cors_origins == ()
    for bad in ("*,https://a.com", "a.com", "https://a.com/path", "ftp://a.com", "https://u:p@a.com"):
        with pytest.raises(ConfigError, match="CORS_ORIGINS"):
            Config.from_env({"CORS_ORIGINS": bad})


def test_off_by_default_no_cors_header_anywhere(tmp_path):
    app = client(tmp_path)
    answer = preflight(app)
    assert "Access-Control-Allow-Origin" not in answer.headers
    answer = app.get("/v1/models", headers={"Origin": PAGE, "Authorization": "Bearer sk-k"})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_a_preflight_is_answered_before_the_key_check(tmp_path):
    stainless = "authorization, content-type, x-stainless-os, x-stainless-retry-count, openai-beta"
    answer = preflight(client(tmp_path, CORS_ORIGINS=PAGE), headers=stainless)
    assert answer.status_code == 204 and answer.data == b""
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Origin" in answer.headers["Vary"]
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == stainless  # echoed: every one is allowed
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("path", [CHAT, "/v1/messages", "/v1/responses", "/v1beta/models/gemini-2.5-flash:generateContent",
                                  "/gemini/chat", "/v1/models"])
def test_every_client_surface_answers_the_preflight_with_its_key_header(tmp_path, path):
    headers = "content-type, x-api-key, anthropic-version, anthropic-beta, x-goog-api-key, x-request-id"
    answer = preflight(client(tmp_path, CORS_ORIGINS="*"), path, headers=headers)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Headers"] == headers
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_a_header_nobody_allowed_is_not_echoed(tmp_path):
    answer = preflight(client(tmp_path, CORS_ORIGINS=PAGE), headers="authorization, x-evil")
    allowed = [h.strip() for h in answer.headers["Access-Control-Allow-Headers"].split(",")]
    assert "authorization" in allowed and "x-evil" not in allowed  # so the browser refuses the call


def test_a_disallowed_origin_gets_no_cors_header(tmp_path):
    app = client(tmp_path, CORS_ORIGINS=PAGE)
    answer = preflight(app, origin="https://evil.example.com")
    assert not [h for h in answer.headers if h[0].lower().startswith("access-control-")]
    answer = app.get("/v1/models", headers={"Origin": "https://evil.example.com", "Authorization": "Bearer sk-k"})
    assert not [h for h in answer.headers if h[0].lower().startswith("access-control-")]


def test_answers_and_errors_of_an_allowed_origin_are_readable(tmp_path):
    app = client(tmp_path, CORS_ORIGINS=PAGE)
    for answer in (app.get("/v1/models", headers={"Origin": PAGE, "Authorization": "Bearer sk-k"}),
                   app.post(CHAT, headers={"Origin": PAGE}, json={})):  # 401: the page may read why
        assert answer.headers["Access-Control-Allow-Origin"] == PAGE
        exposed = answer.headers["Access-Control-Expose-Headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed
        assert "Origin" in answer.headers["Vary"]
    assert app.post(CHAT, headers={"Origin": PAGE}, json={}).status_code == 401


@pytest.mark.parametrize("origins", [PAGE, "*"])
def test_admin_is_never_opened_to_other_origins(tmp_path, origins):
    app = client(tmp_path, CORS_ORIGINS=origins)
    answer = preflight(app, "/admin/accounts")
    assert "Access-Control-Allow-Origin" not in answer.headers
    answer = app.get("/admin/accounts", headers={"Origin": PAGE, "Authorization": "Bearer adm"})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers
