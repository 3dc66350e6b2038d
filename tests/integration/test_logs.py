"""Logs: every request and upstream exchange at debug, and never a cookie, key or token."""
import re

import requests

from tests.integration.conftest import API_KEY, CANARY
from tests.integration.helpers import Worker, auth, openai_client

SECRETS = [CANARY["secure_c_ses"], CANARY["host_c_oses"], API_KEY, "sk-other"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")


def test_no_secret_reaches_the_logs_or_responses(proxy, simulator):
    client = openai_client(proxy)
    seen = [client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "log me"}])
            .model_dump_json()]
    for response in (
        requests.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-other-wrong"},
                      json={}, timeout=10),
        requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), data="{broken", timeout=10),
        requests.get(f"{proxy.url}/health", timeout=10),
    ):
        seen.append(response.text + str(dict(response.headers)))
    # A refused JWT (401 from the widget API) and a dead cookie both go through the error paths.
    simulator.fault("jwt_expired", verb="widgetCreateSession", count=2)
    worker = Worker(proxy)
    seen.append(worker.request("POST", "/v1/chat/completions",
                               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})[0].text)
    simulator.control("POST", "keys/expire")
    simulator.fault("expired_cookie")
    seen.append(worker.request("POST", "/gemini/sessions")[0].text)

    logs = "\n".join(proxy.output())
    assert "upstream exchange" in logs and "request received" in logs  # LOG_LEVEL=debug logs both
    for secret in SECRETS:
        assert secret not in logs, f"{secret} leaked into the logs"
        assert not any(secret in text for text in seen[1:]), f"{secret} leaked into a response"
    assert not JWT.search(logs)
    assert "[redacted]" in logs  # the redaction really ran on the Authorization header
