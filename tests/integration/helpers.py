"""Small helpers shared by the integration tests."""
import json
import time

import requests

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS


def expected(query: str, history: tuple[str, ...] = ()):
    """What the simulator answers to `query` as the next turn after `history`."""
    return reply_for(query, list(history), WORDS)


def openai_client(proxy, **kwargs):
    import openai
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=kwargs.pop("api_key", API_KEY), max_retries=0,
                         **kwargs)


def async_client(proxy):
    import openai
    return openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=API_KEY, max_retries=0)


def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


def sse_data(lines):
    """JSON payloads of `data:` lines (stops at [DONE])."""
    out = []
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: "):]
            if payload == "[DONE]":
                break
            out.append(json.loads(payload))
    return out


def stream_assist_queries(simulator):
    """The query texts the upstream accepted, in order (a call refused with 401 and retried counts once)."""
    return [r["body"]["streamAssistRequest"]["query"]["parts"][0]["text"]
            for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]


class Worker:
    """A keep-alive connection: every request on it is served by the same gunicorn worker."""
    count = 0

    def __init__(self, proxy):
        self.proxy = proxy
        self.http = requests.Session()
        self.http.headers.update(auth())
        self.pid = self.request("GET", "/v1/models")[1]

    def request(self, method, path, **kwargs):
        Worker.count += 1
        request_id = f"native-{Worker.count}"
        response = self.http.request(method, f"{self.proxy.url}{path}", headers={"X-Request-Id": request_id},
                                     timeout=20, **kwargs)
        return response, self.proxy.pid_of(request_id)


def two_workers(proxy, attempts=50):
    first = Worker(proxy)
    for _ in range(attempts):
        other = Worker(proxy)
        if other.pid != first.pid:
            return first, other
        other.http.close()
    raise AssertionError("every connection went to the same worker")


def wait_for(check, timeout=90.0, what="condition"):
    """The first truthy value of check(), polled; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def fast_simulator(directory, accounts: list[dict]):
    """A simulator that knows `accounts` (written to directory/accounts.json, kept as
    .accounts_file for the proxy's ACCOUNTS_FILE) and answers in three quick words."""
    from tests.servers import Simulator

    path = directory / "accounts.json"
    path.write_text(json.dumps(accounts))
    simulator = Simulator("--accounts", str(path), "--reply-words", "3", "--ttfb", "0.01", "--chunk-delay",
                          "0.002", "--quiet")
    simulator.accounts_file = path
    return simulator
