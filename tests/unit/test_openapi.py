"""GET /openapi.json describes every route of the app and is a valid OpenAPI 3.1 document;
GET /docs shows it with nothing fetched from elsewhere. Real answers are checked against it in
tests/integration/test_schema_conformance.py."""
import re

import pytest
from openapi_spec_validator import validate
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app import create_app
from app.config import Config

UNDESCRIBED = {"static", "admin.static"}  # files, not API


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = Config.from_env({"DATA_DIR": str(tmp_path_factory.mktemp("openapi")), "LOG_LEVEL": "error",
                              "ADMIN_KEY": "adm", "API_KEYS": "sk-k"})
    return create_app(config)


@pytest.fixture(scope="module")
def document(app):
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def described(app, document) -> set[tuple[str, str]]:
    """(endpoint, METHOD) of every operation of the document, as the app routes it."""
    adapter = app.url_map.bind("localhost")
    out = set()
    for path, operations in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "gemini-2.5-flash", path)
        for method in operations:
            try:
                endpoint, _ = adapter.match(concrete, method.upper())
            except (NotFound, MethodNotAllowed):
                raise AssertionError(f"{method.upper()} {path} is described but no route serves it") from None
            out.add((endpoint, method.upper()))
    return out


def test_every_route_is_described(app, document):
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint not in UNDESCRIBED
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - described(app, document) == set()


def test_every_operation_answers_errors_in_its_surfaces_envelope(document):
    envelopes = {"/v1/messages": "AnthropicError", "/v1beta/": "GoogleError", "/v1/models/{model}:": "GoogleError"}
    for path, operations in document["paths"].items():
        wanted = next((e for prefix, e in envelopes.items() if path.startswith(prefix)), "OpenAIError")
        for method, op in operations.items():
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if int(status) >= 400 and path != "/health/ready":
                    assert schema == {"$ref": f"#/components/schemas/{wanted}"}, (method, path, status)


def test_the_docs_page_is_self_contained(app, document):
    answer = app.test_client().get("/docs")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "nothing may come from another host"
    assert "<script" not in page
    for path in document["paths"]:
        assert path in page
    assert 'href="openapi.json"' in page


def test_no_key_is_needed_for_the_document(app):
    client = app.test_client()
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/v1/models").status_code == 401  # while the API itself needs one
