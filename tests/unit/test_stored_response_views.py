"""GET / DELETE /v1/responses/{id} and its input_items (app/responses/retrieval.py) on the Flask
test client: the caller's own responses only, OpenAI's list shape and paging, 404 envelopes."""
import hashlib

import pytest

from app import create_app
from app.config import Config
from app.dialogue import Message

KEYS = ("sk-alice", "sk-bob")
ITEMS = tuple({"id": f"msg_{i}", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": str(i)}]} for i in range(5))
RESPONSE = {"id": "resp_abc", "object": "response", "status": "completed", "output": []}


def caller(key):
    return hashlib.sha256(f"key:{key}".encode()).hexdigest()  # app/auth.py client_id of an API key


@pytest.fixture
def app(tmp_path):
    config = Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "API_KEYS": ",".join(KEYS)})
    app = create_app(config)
    app.extensions["gbp.responses"].put(caller("sk-alice"), RESPONSE, ITEMS, (Message("user", "0"),))
    return app


def get(app, path, key="sk-alice", method="get"):
    return getattr(app.test_client(), method)(path, headers={"Authorization": f"Bearer {key}"})


def assert_404(response):
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["type"] == "invalid_request_error" and "resp_abc" in error["message"]


def test_the_caller_reads_its_response_and_its_input_items(app):
    assert get(app, "/v1/responses/resp_abc").get_json() == RESPONSE
    page = get(app, "/v1/responses/resp_abc/input_items").get_json()
    assert page == {"object": "list", "data": list(reversed(ITEMS)), "first_id": "msg_4", "last_id": "msg_0",
                    "has_more": False}  # newest first, as the API's default order


def test_input_items_page_with_limit_order_and_after(app):
    first = get(app, "/v1/responses/resp_abc/input_items?order=asc&limit=2").get_json()
    assert [i["id"] for i in first["data"]] == ["msg_0", "msg_1"] and first["has_more"]
    second = get(app, f"/v1/responses/resp_abc/input_items?order=asc&limit=2&after={first['last_id']}").get_json()
    assert [i["id"] for i in second["data"]] == ["msg_2", "msg_3"] and second["has_more"]
    last = get(app, "/v1/responses/resp_abc/input_items?order=asc&limit=2&after=msg_3").get_json()
    assert [i["id"] for i in last["data"]] == ["msg_4"] and not last["has_more"]
    for query, param in (("limit=0", "limit"), ("limit=x", "limit"), ("order=up", "order"), ("after=nope", "after")):
        response = get(app, f"/v1/responses/resp_abc/input_items?{query}")
        assert response.status_code == 400 and response.get_json()["error"]["param"] == param


def test_another_caller_gets_404_for_every_verb_and_the_response_stays(app):
    for path, method in (("/v1/responses/resp_abc", "get"), ("/v1/responses/resp_abc/input_items", "get"),
                         ("/v1/responses/resp_abc", "delete")):
        assert_404(get(app, path, key="sk-bob", method=method))
    assert get(app, "/v1/responses/resp_abc").status_code == 200


def test_delete_then_every_verb_is_404(app):
    assert get(app, "/v1/responses/resp_abc", method="delete").get_json() == {
        "id": "resp_abc", "object": "response.deleted", "deleted": True}
    assert_404(get(app, "/v1/responses/resp_abc"))
    assert_404(get(app, "/v1/responses/resp_abc", method="delete"))
    assert_404(get(app, "/v1/responses/resp_abc/input_items"))


def test_a_stored_response_is_not_streamed_again(app):
    response = get(app, "/v1/responses/resp_abc?stream=true")
    assert response.status_code == 400 and response.get_json()["error"]["param"] == "stream"


def test_no_key_is_401(app):
    assert app.test_client().get("/v1/responses/resp_abc").status_code == 401
