"""The browser the gateway looks like, and the service identities it claims (docs/protocol.md §1-§2)."""
import base64
import json

import pytest

from app.upstream.credential import Credential
from app.config import Config, ConfigError
from app.upstream import identity
from app.upstream.client import GeminiBusiness
from app.upstream.identity import Footprint, accept_language, client_hints
from tests.canned_upstream import CannedServer


@pytest.mark.parametrize("language, header", [
    ("en", "en"),
    ("en-US", "en-US,en;q=0.9"),
    ("zh-CN", "zh-CN,zh;q=0.9"),
    ("de-DE", "de-DE,de;q=0.9"),
])
def test_accept_language_is_built_as_chrome_builds_it(language, header):
    assert accept_language(language) == header


@pytest.mark.parametrize("major, hints", [  # what those Chrome versions really send
    (124, '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
    (131, '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
    (140, '"Chromium";v="140", "Not=A?Brand";v="24", "Google Chrome";v="140"'),
])
def test_client_hints_are_chromes_own_for_the_version(major, hints):
    assert client_hints(major) == hints


def test_user_agent_and_hints_name_the_configured_version():
    config = Config.from_env({"UPSTREAM_CHROME_VERSION": "152"})
    headers = Footprint.from_config(config).widget_headers("t")
    assert "Chrome/152.0.0.0 " in headers["user-agent"]
    assert '"Google Chrome";v="152"' in headers["sec-ch-ua"] and '"Chromium";v="152"' in headers["sec-ch-ua"]
    assert Config.from_env({}).upstream_chrome_version == identity.DEFAULT_CHROME_VERSION


def test_getoxsrf_sends_the_fetch_headers_that_go_with_client_hints():
    headers = Footprint().getoxsrf_headers("c=1")
    assert headers["origin"] == "https://business.gemini.google"
    assert headers["referer"] == "https://business.gemini.google/"
    assert (headers["sec-fetch-site"], headers["sec-fetch-mode"], headers["sec-fetch-dest"]) == (
        "same-site", "cors", "empty")


def test_the_browser_encodings_are_advertised_and_decodable():
    assert Footprint().widget_headers("t")["accept-encoding"] == "gzip, deflate, br, zstd"


@pytest.mark.parametrize("env, origin, audience", [
    ({}, "https://business.gemini.google", "https://biz-discoveryengine.googleapis.com"),
    # the other domain pair serving the same widget protocol: the URLs are enough
    ({"GEMINI_BUSINESS_URL": "https://vertexaisearch.cloud.google",
      "API_BASE_URL": "https://content-discoveryengine.googleapis.com/v1alpha"},
     "https://vertexaisearch.cloud.google", "https://content-discoveryengine.googleapis.com"),
    # a simulator or test double: the real identities stay
    ({"GEMINI_BUSINESS_URL": "http://127.0.0.1:8765", "API_BASE_URL": "http://127.0.0.1:8765/v1alpha"},
     "https://business.gemini.google", "https://biz-discoveryengine.googleapis.com"),
    ({"GEMINI_BUSINESS_URL": "http://127.0.0.1:8765", "UPSTREAM_ORIGIN": "https://vertexaisearch.cloud.google",
      "UPSTREAM_AUDIENCE": "https://content-discoveryengine.googleapis.com/"},
     "https://vertexaisearch.cloud.google", "https://content-discoveryengine.googleapis.com"),
])
def test_service_identities_follow_google_urls_or_settings(env, origin, audience):
    config = Config.from_env(env)
    assert (config.upstream_origin, config.upstream_audience) == (origin, audience)


@pytest.mark.parametrize("env", [{"UPSTREAM_ORIGIN": "business.gemini.google"},
                                 {"UPSTREAM_AUDIENCE": "https://x.example/v1alpha"},
                                 {"UPSTREAM_LANGUAGE": "en-US,en;q=0.9"},
                                 {"UPSTREAM_CHROME_VERSION": "abc"}])
def test_bad_footprint_settings_stop_the_start(env):
    with pytest.raises(ConfigError):
        Config.from_env(env)


def test_jwt_and_headers_carry_the_configured_identities():
    """On the wire (a local server plays getoxsrf and the API): the identities the settings
    name (as a Google URL would, test above) are the JWT's iss/aud and the origin/referer sent."""
    upstream = CannedServer()
    try:
        key = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()
        upstream.add("GET", "/auth/getoxsrf", body=")]}'\n" + json.dumps({"xsrfToken": key, "keyId": "kid"}))
        upstream.add("POST", "/v1alpha/locations/global/widgetCreateSession",
                     json={"session": {"name": "collections/x/sessions/1"}})
        client = GeminiBusiness(Config.from_env({
            "GEMINI_BUSINESS_URL": upstream.origin, "API_BASE_URL": f"{upstream.origin}/v1alpha",
            "UPSTREAM_ORIGIN": "https://vertexaisearch.cloud.google",
            "UPSTREAM_AUDIENCE": "https://content-discoveryengine.googleapis.com"}))
        client.create_session(Credential("a", "c", "42", "cfg"))
        sent = upstream.calls[1].headers
    finally:
        upstream.close()
    payload = sent["authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "https://vertexaisearch.cloud.google"
    assert claims["aud"] == "https://content-discoveryengine.googleapis.com"
    assert sent["origin"] == "https://vertexaisearch.cloud.google"
    assert sent["referer"] == "https://vertexaisearch.cloud.google/"
