"""Upstream failures, before and after the first byte, as real clients see them."""
import time

import openai
import pytest
import requests

from tests.integration.helpers import Worker, auth, expected, openai_client, sse_data

HI = [{"role": "user", "content": "hi"}]


def create(proxy, **kwargs):
    return openai_client(proxy).chat.completions.create(model="gpt-4o", messages=HI, **kwargs)


def stream_text(proxy):
    return "".join(c.choices[0].delta.content or "" for c in create(proxy, stream=True))


def test_an_expired_jwt_is_refreshed_transparently(proxy, simulator):
    worker = Worker(proxy)  # one connection, one worker: its cached token is the one that expires
    body = {"model": "gpt-4o", "messages": HI}
    assert worker.request("POST", "/v1/chat/completions", json=body)[0].status_code == 200
    simulator.control("POST", "keys/expire")
    simulator.control("DELETE", "requests")
    response, _ = worker.request("POST", "/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == expected("hi").text
    calls = [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in simulator.requests_log()]
    # The cached JWT was refused (by createSession, or by streamAssist on a ready-made session),
    # a new key was fetched, and the chat went through with a token signed with it.
    refused = calls.index(next(call for call in calls if call[1] == 401))
    fresh_key = calls.index(("getoxsrf", 200), refused)
    assert ("widgetStreamAssist", 200) in calls[fresh_key:]


def test_http_429_is_a_rate_limit_error_with_retry_after(proxy, simulator):
    simulator.fault("http_429", verb="widgetStreamAssist", retry_after=7)
    with pytest.raises(openai.RateLimitError) as caught:
        create(proxy)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"
    # The only account now cools down for the hinted 7 s: the next request is told when to retry.
    with pytest.raises(openai.InternalServerError) as caught:
        create(proxy)
    assert caught.value.status_code == 503 and caught.value.code == "account_unavailable"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 7


def test_in_stream_429_before_any_content_is_still_a_real_429(proxy, simulator):
    simulator.fault("stream_429", after=0)
    with pytest.raises(openai.RateLimitError):
        create(proxy, stream=True)


def test_in_stream_429_after_content_is_an_in_band_error(proxy, simulator):
    simulator.fault("stream_429", after=3)
    with pytest.raises(openai.APIError) as caught:
        stream_text(proxy)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert "rate limit" in caught.value.message.lower()


def test_a_truncated_stream_is_never_shown_as_success(proxy, simulator):
    simulator.fault("truncate", after=3)
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=10, stream=True,
                             json={"model": "gpt-4o", "messages": HI, "stream": True})
    lines = [line.decode() for line in response.iter_lines()]
    payloads = sse_data(lines)
    assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]"
    assert payloads[-1]["error"]["code"] == "upstream_error"
    assert not any(p.get("choices") and p["choices"][0]["finish_reason"] for p in payloads)
    simulator.fault("truncate", after=3)
    with pytest.raises(openai.InternalServerError) as caught:
        create(proxy)
    assert caught.value.status_code == 502


@pytest.mark.parametrize("status,expected_status,error", [
    (500, 502, openai.InternalServerError),
    (503, 503, openai.InternalServerError),
    (400, 400, openai.BadRequestError),
])
def test_upstream_http_errors_map_to_client_statuses(proxy, simulator, status, expected_status, error):
    simulator.fault("http_error", status=status, verb="widgetStreamAssist")
    with pytest.raises(error) as caught:
        create(proxy, stream=True)
    assert caught.value.status_code == expected_status
    assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_malformed_stream_is_502(proxy, simulator):
    simulator.fault("malformed", after=1)
    with pytest.raises(openai.InternalServerError) as caught:
        create(proxy)
    assert caught.value.status_code == 502


def test_a_hung_upstream_times_out(proxy, simulator):
    """UPSTREAM_READ_TIMEOUT is 3 s here. Non-streamed: a real 504. Streamed: the 200 was
    committed after one keep-alive interval of silence, so keep-alives, then an in-band error."""
    simulator.fault("hang", after=0, seconds=30, count=2)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            create(proxy)
        assert caught.value.status_code == 504 and caught.value.code == "timeout"
        response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=10, stream=True,
                                 json={"model": "gpt-4o", "messages": HI, "stream": True})
        lines = [line.decode() for line in response.iter_lines()]
        assert ": keep-alive" in lines
        assert sse_data(lines)[-1]["error"]["code"] == "timeout"
        assert lines[-1] == "data: [DONE]" or lines[-2] == "data: [DONE]"
    finally:
        simulator.control("POST", "release")


def test_policy_block_finishes_with_content_filter(proxy, simulator):
    simulator.fault("skip")
    completion = create(proxy)
    assert completion.choices[0].finish_reason == "content_filter"
    assert "CUSTOMER_POLICY_VIOLATION" in completion.choices[0].message.refusal
    simulator.fault("skip")
    chunks = list(create(proxy, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["content_filter"]


def test_thoughts_without_an_answer_are_an_error_not_an_empty_success(proxy, simulator):
    simulator.fault("thoughts_only")
    with pytest.raises(openai.APIError):
        stream_text(proxy)


def test_expired_cookies_are_503_not_401(proxy, simulator):
    simulator.fault("expired_cookie", count=-1)
    try:
        worker = Worker(proxy)
        # The worker may still hold a valid JWT; expiring the keys forces a new getoxsrf.
        simulator.control("POST", "keys/expire")
        response, _ = worker.request("POST", "/v1/chat/completions", json={"model": "gpt-4o", "messages": HI})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "account_unavailable"
        assert "canary" not in response.text
    finally:
        simulator.control("DELETE", "faults")


def test_the_upstream_call_is_cancelled_when_the_client_goes_away(proxy, simulator):
    simulator.fault("gate", after=3)
    response = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), timeout=10, stream=True,
                             json={"model": "gpt-4o", "messages": HI, "stream": True})
    lines = response.iter_lines()
    while b"content" not in next(lines):  # the answer has started...
        pass
    response.close()  # ...and the client hangs up
    simulator.control("POST", "release")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        outcomes = [r.get("outcome") for r in simulator.requests_log()
                    if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]
        if outcomes == ["aborted"]:
            break
        time.sleep(0.1)
    assert outcomes == ["aborted"]
