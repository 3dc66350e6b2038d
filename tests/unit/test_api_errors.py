"""Every client-visible error is OpenAI's envelope with the right status (Flask test client)."""
import json
import time

import pytest

from app import create_app, hs256
from app.config import Config

CHAT = "/v1/chat/completions"


def make_app(tmp_path, **env):
    config = Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", **env})
    return create_app(config)


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path).test_client()


def assert_error(response, status, code=None, param=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type.startswith("application/json")
    error = response.get_json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def chat(client, body, **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(CHAT, data=data, content_type="application/json", **kwargs)


def ok_body(**extra):
    return {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("data", ["{bad", "", "[1, 2]", '"text"', "null", "[" * 100000 + "]" * 100000,
                                  b"\xff\xfe{}"])
def test_malformed_bodies_are_400(client, data):
    assert_error(chat(client, data), 400, "invalid_json")


@pytest.mark.parametrize("data,param", [
    ('{"model": "gpt-4o", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}', None),
    ('{"model": "gpt-4o", "top_p": 1e400, "messages": [{"role": "user", "content": "hi"}]}', None),
    ('{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud800"}]}', "messages[0].content"),
    ('{"model": "\\udfff", "messages": [{"role": "user", "content": "hi"}]}', "model"),
])
def test_non_finite_numbers_and_lone_surrogates_are_400(client, data, param):
    error = assert_error(chat(client, data), 400, "invalid_json", param)
    assert "not valid JSON" in error["message"]


def test_an_error_quoting_text_that_is_not_unicode_still_renders(tmp_path):
    from app.errors import ApiError, render
    with make_app(tmp_path).test_request_context():
        response = render(ApiError(404, "The model '\ud800' does not exist.", param="\udc00", code="model_not_found"))
    error = json.loads(response.get_data())["error"]
    assert error["message"] == "The model '\\ud800' does not exist." and error["param"] == "\\udc00"


@pytest.mark.parametrize("body,param", [
    ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": 5, "messages": []}, "model"),
    ({"model": "gpt-4o"}, "messages"),
    ({"model": "gpt-4o", "messages": []}, "messages"),
    ({"model": "gpt-4o", "messages": {"role": "user"}}, "messages"),
    ({"model": "gpt-4o", "messages": ["hi"]}, "messages[0]"),
    ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
    ({"model": "gpt-4o", "messages": [{"role": "user"}]}, "messages[0].content"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
     "messages[0].content[0].text"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
     "messages[0].content[0].type"),
    (ok_body(stream="yes"), "stream"),
    (ok_body(stream_options=[]), "stream_options"),
    (ok_body(temperature="hot"), "temperature"),
    (ok_body(max_tokens="10"), "max_tokens"),
    (ok_body(max_tokens=True), "max_tokens"),
    (ok_body(max_completion_tokens=0), "max_completion_tokens"),
    (ok_body(stop=[1]), "stop"),
    (ok_body(stop=["a", "b", "c", "d", "e"]), "stop"),
])
def test_wrong_types_name_the_param(client, body, param):
    assert_error(chat(client, body), 400, param=param)


@pytest.mark.parametrize("body,param", [
    (ok_body(n=2), "n"),
    (ok_body(logprobs=True), "logprobs"),
    (ok_body(tools=[{"type": "custom", "custom": {}}]), "tools[0].type"),
    (ok_body(tools=[{"type": "function", "function": {"name": "f"}}],
             tool_choice={"type": "allowed_tools", "allowed_tools": {}}), "tool_choice.type"),
    (ok_body(modalities=["audio"]), "modalities"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}, "messages[0].content[0]"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": "file-abc"}}]}]}, "messages[0].content[0].file.file_id"),
    ({"model": "gpt-4o", "messages": [{"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, "messages[0].content[0]"),
])
def test_parameters_that_would_silently_change_the_answer_are_refused(client, body, param):
    error = assert_error(chat(client, body), 400, param=param)
    assert error["code"] in ("unsupported_value", "unsupported_parameter")


def test_unknown_model_is_404_model_not_found(client):
    assert_error(chat(client, {**ok_body(), "model": "llama-3"}), 404, "model_not_found", "model")
    assert_error(client.get("/v1/models/llama-3"), 404, "model_not_found", "model")


@pytest.mark.parametrize("model,status,code,named", [
    ("gemini-3-pro-preview", 404, "model_not_found", "gemini-3.1-pro-preview"),  # retired: names the successor
])
def test_retired_models_are_refused_clearly_on_both_surfaces(client, model, status, code, named):
    for response in (chat(client, {**ok_body(), "model": model}), client.get(f"/v1/models/{model}"),
                     client.post("/gemini/sessions", json={"model": model})):
        assert named in assert_error(response, status, code, "model")["message"]


def test_a_native_session_whose_model_was_dropped_since_says_so(tmp_path):
    """A session made before an upgrade took gemini-3-pro-preview out of the catalogue: its next
    message is a 404 naming the successor, not a silent switch to another model."""
    from app.gemini.sessions import Sessions
    app = make_app(tmp_path)
    session = Sessions(app.extensions["gbp"].store, 600).create("sessions/1", "a@example.com", "gemini-3-pro-preview")
    response = app.test_client().post("/gemini/chat", json={"session_id": session.id, "message": "hi"})
    assert "gemini-3.1-pro-preview" in assert_error(response, 404, "model_not_found", "model")["message"]


def test_a_native_model_that_is_not_a_string_is_400(client):
    assert_error(client.post("/gemini/sessions", json={"model": 5}), 400, "invalid_type", "model")


def test_unknown_parameters_are_ignored(client):
    # Passes validation and reaches the account pool, which has no account here.
    response = chat(client, ok_body(foo={"bar": 1}, user="u", seed=3, metadata={}, n=1, temperature=0.7,
                                    tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="auto"))
    assert_error(response, 503, "account_unavailable")
    assert response.headers["Retry-After"]


def test_framework_errors_use_the_envelope(client):
    assert_error(client.get("/v1/nothing"), 404, "unknown_url")
    assert_error(client.get("/"), 404, "unknown_url")
    response = client.get(CHAT)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_oversized_bodies_are_413(tmp_path):
    client = make_app(tmp_path, MAX_REQUEST_MB="1").test_client()
    big = json.dumps(ok_body(messages=[{"role": "user", "content": "x" * (2 * 1024 * 1024)}]))
    assert_error(chat(client, big), 413, "request_too_large")


def test_models_list_and_aliases(client):
    models = client.get("/v1/models").get_json()
    assert models["object"] == "list"
    ids = [m["id"] for m in models["data"]]
    assert ids[0] == "gemini-business" and "gemini-2.5-pro" in ids
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in models["data"])
    assert client.get("/v1/models/gpt-4o").get_json()["id"] == "gpt-4o"


def test_openai_surface_can_be_switched_off(tmp_path):
    client = make_app(tmp_path, OPENAI_COMPATIBLE="false").test_client()
    assert_error(client.get("/v1/models"), 404, "unknown_url")
    assert_error(client.post("/gemini/sessions"), 503, "account_unavailable")


def test_native_api_validation(client):
    assert_error(client.post("/gemini/chat", json={"message": "hi"}), 400, param="session_id")
    assert_error(client.post("/gemini/chat", json={"session_id": "ses_nope_nope_nope_nope", "message": "hi"}),
                 404, "session_not_found", "session_id")
    assert_error(client.get("/gemini/sessions/../../etc"), 404)
    assert_error(client.delete("/gemini/sessions/ses_unknown_unknown_unknown"), 404, "session_not_found")
    assert_error(client.post("/gemini/sessions", json={"model": "nope"}), 404, "model_not_found")
    assert_error(client.post("/gemini/sessions", data="{bad", content_type="application/json"), 400)


class TestClientAuth:
    def test_open_when_no_keys(self, client):
        assert client.get("/v1/models").status_code == 200

    def test_missing_and_wrong_keys_are_401(self, tmp_path):
        client = make_app(tmp_path, API_KEYS="sk-one,sk-two").test_client()
        assert_error(client.get("/v1/models"), 401, "invalid_api_key")
        error = assert_error(client.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"}), 401)
        assert "sk-wrong" not in error["message"]
        assert_error(client.post("/gemini/sessions"), 401, "invalid_api_key")
        assert client.get("/v1/models", headers={"Authorization": "Bearer sk-two"}).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": "sk-one"}).status_code == 200
        assert client.get("/health").status_code == 200

    def test_custom_header(self, tmp_path):
        client = make_app(tmp_path, API_KEYS="k123", API_KEY_HEADER="X-API-Key").test_client()
        assert client.get("/v1/models", headers={"X-API-Key": "k123"}).status_code == 200
        assert_error(client.get("/v1/models", headers={"Authorization": "Bearer k123"}), 401)

    def test_jwt_signed_with_the_secret(self, tmp_path):
        client = make_app(tmp_path, JWT_SECRET="s3cret").test_client()
        now = int(time.time())
        good = hs256.sign({"alg": "HS256", "typ": "JWT"}, {"sub": "u", "exp": now + 60}, b"s3cret")
        expired = hs256.sign({"alg": "HS256", "typ": "JWT"}, {"sub": "u", "exp": now - 60}, b"s3cret")
        forged = hs256.sign({"alg": "HS256", "typ": "JWT"}, {"sub": "u"}, b"other")
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        for token in (expired, forged, "a.b.c", "x"):
            assert_error(client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}), 401)

    def test_a_jwt_whose_json_is_hostile_is_401(self, tmp_path):
        client = make_app(tmp_path, JWT_SECRET="s3cret").test_client()
        for header in (b"[" * 3000, b'{"alg": "HS256", "x": NaN}', b'{"alg": "\\ud800"}'):
            token = f"{hs256.b64url_encode(header)}.{hs256.b64url_encode(b'{}')}.c2ln"
            assert_error(client.get("/v1/models", headers={"Authorization": f"Bearer {token}"}), 401)


def test_unexpected_failures_are_500_without_details(tmp_path):
    class Exploding:
        tokens = None

        def create_session(self, account):
            raise RuntimeError("internal detail that must not leak")

    config = Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "GEMINI_BUSINESS_SECURE_C_SES": "c",
                              "GEMINI_BUSINESS_CSESIDX": "1", "GEMINI_BUSINESS_CONFIG_ID": "cfg"})
    client = create_app(config, upstream=Exploding()).test_client()
    error = assert_error(chat(client, ok_body()), 500)
    assert "internal detail" not in error["message"]


@pytest.mark.parametrize("arguments", ["[" * 100000, "[" * 100000 + "]" * 100000, "{", "not json"])
def test_tool_call_arguments_in_the_history_may_be_anything(client, arguments):
    """An earlier call's arguments are the client's string: shown as sent when they are not JSON
    (before, JSON nested too deep was a RecursionError: a 500). Passes to the account pool."""
    body = ok_body(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"}],
        tools=[{"type": "function", "function": {"name": "f"}}])
    assert_error(chat(client, body), 503, "account_unavailable")
