"""Every 429 and 503 the gateway sends says when to come back, even when the upstream's
rate limit gave no hint: the pool knows when the first cooldown ends."""
import time

import pytest
import requests

from tests.integration.conftest import ADMIN_KEY, CANARY
from tests.integration.helpers import auth

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "when can I come back?"}]}


def cooldown_left(proxy) -> float:
    account = requests.get(f"{proxy.url}/admin/accounts/{CANARY['id']}",
                           headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10).json()
    return account["cooldown_until"] - time.time()


def retry_after(response) -> int:
    assert "Retry-After" in response.headers, f"{response.status_code} without Retry-After: {response.text}"
    return int(response.headers["Retry-After"])


@pytest.mark.parametrize("fault, stream", [("http_429", False), ("stream_429", True)])
def test_a_rate_limit_without_a_hint_says_when_the_cooldown_ends(proxy, simulator, fault, stream):
    simulator.fault(fault, **({"after": 0} if fault == "stream_429" else {"verb": "widgetStreamAssist"}))
    limited = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), json={**CHAT, "stream": stream},
                            timeout=20)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit_exceeded"
    left = cooldown_left(proxy)  # the only account cools down (COOLDOWN_BASE, no upstream hint)
    assert left > 5 and abs(retry_after(limited) - left) <= 3

    # While it cools, every refusal says the same: the chat's 503 and the readiness probe's.
    busy = requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), json=CHAT, timeout=20)
    assert busy.status_code == 503 and abs(retry_after(busy) - left) <= 3
    ready = requests.get(f"{proxy.url}/health/ready", timeout=20)
    assert ready.status_code == 503 and abs(retry_after(ready) - left) <= 3


def test_a_ready_gateway_has_no_retry_after(proxy):
    response = requests.get(f"{proxy.url}/health/ready", timeout=20)
    assert response.status_code == 200 and "Retry-After" not in response.headers
