"""Every operation of GET /openapi.json, called with requests schemathesis generates from the
document itself (valid ones and malformed ones), against a real gunicorn and the simulator:
each answer must be one the document declares (status, content type, body schema, its surface's
error envelope), and none a 5xx the document does not allow (a 500 never).

Bounded: a few examples per operation, so the whole run stays within seconds."""
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import Gunicorn

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
COUNT = {"cases": 0}
STATUSES: dict[int, int] = {}
EXAMPLES = 8  # per operation


@pytest.fixture(scope="module")
def conformance_proxy(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, UPSTREAM_READ_TIMEOUT="5"), workers=1)
    yield server
    server.stop()


def run(operation, url: str, examples: int, found: list) -> None:
    """One operation: each of its documented examples (requests that succeed) once, then
    `examples` generated cases, valid and malformed, each sent and checked."""
    for example in operation.schema.get_strategies_from_examples(operation):
        drive(operation, example, 1, url, found)
    drive(operation, st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)), examples,
          url, found)


def drive(operation, strategy, examples: int, url: str, found: list) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        key = ADMIN_KEY if case.path.startswith("/admin") else API_KEY
        COUNT["cases"] += 1
        try:
            response = case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                              checks=CHECKS, timeout=30)
            STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
        except (Exception, FailureGroup) as failure:  # schemathesis' failures (and any other): kept, every operation still runs
            found.append(f"{operation.label}: {failure}")
            raise

    try:
        check()
    except (Exception, FailureGroup):  # already recorded in `found`
        pass


def test_every_answer_is_one_the_document_declares(conformance_proxy):
    schema = schemathesis.openapi.from_url(f"{conformance_proxy.url}/openapi.json")
    found: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        run(operation, conformance_proxy.url, EXAMPLES, found)
    print(f"schema conformance: {len(operations)} operations, {COUNT['cases']} cases, {len(found)} failing; statuses {sorted(STATUSES.items())}")
    assert not found, "\n\n".join(found)


@pytest.mark.parametrize("prefix", ["/v1", "/v1beta"])
def test_a_model_name_with_a_line_break_is_refused_in_googles_envelope(conformance_proxy, prefix):
    """Found by the run above: the name matched no route, so /v1's was an OpenAI-shaped 404."""
    answer = requests.post(f"{conformance_proxy.url}{prefix}/models/gemini%0Ax:generateContent", timeout=10,
                           headers={"x-goog-api-key": API_KEY}, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert answer.status_code in (400, 404), answer.text
    error = answer.json()["error"]
    assert error["code"] == answer.status_code and error["status"] in ("INVALID_ARGUMENT", "NOT_FOUND"), error


def test_an_openai_model_name_with_a_line_break_is_an_openai_404(conformance_proxy):
    answer = requests.get(f"{conformance_proxy.url}/v1/models/gemini%0Ax", timeout=10,
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "model_not_found", answer.text
