"""A web page on another origin calls the gateway from a real headless Chromium (CORS_ORIGINS):
a preflighted fetch (Authorization and a JSON body) whose stream the page reads as it arrives,
and the same call from an origin not allowed, which the browser itself blocks."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.integration.conftest import API_KEY, proxy_env
from tests.integration.test_admin_page import browser  # noqa: F401  (the same headless Chromium fixture)
from tests.servers import Gunicorn


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>a chat front end</title><p>page</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_host():
    """Where the page comes from: http://127.0.0.1:P is allowed, http://localhost:P (the same
    server, another origin to a browser) is not."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def cors_proxy(simulator, tmp_path_factory, page_host):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY,
                                CORS_ORIGINS=f"http://127.0.0.1:{page_host}"), workers=1)
    yield server
    server.stop()


# The page's script: a streamed chat completion read chunk by chunk, as a chat front end does.
STREAM = """async ([url, key]) => {
  try {
    const response = await fetch(url + "/v1/chat/completions", {
      method: "POST",
      headers: {"Authorization": "Bearer " + key, "Content-Type": "application/json",
                "X-Stainless-Lang": "js", "OpenAI-Beta": "assistants=v2"},
      body: JSON.stringify({model: "gemini-2.5-flash", stream: true,
                            messages: [{role: "user", content: "hello from a page"}]}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "", reads = 0;
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      reads += 1;
      text += decoder.decode(value, {stream: true});
    }
    return {status: response.status, requestId: response.headers.get("x-request-id"), text, reads};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""


def run_in_page(browser, origin, script, *args):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin)
        return page.evaluate(script, list(args))
    finally:
        context.close()


def test_an_allowed_page_streams_a_chat_completion(browser, cors_proxy, page_host):
    result = run_in_page(browser, f"http://127.0.0.1:{page_host}", STREAM, cors_proxy.url, API_KEY)
    assert result.get("status") == 200, result
    assert result["requestId"].startswith("req_")  # exposed: the page can read it
    assert "data: [DONE]" in result["text"] and '"chat.completion.chunk"' in result["text"]
    assert result["reads"] >= 1


def test_a_page_on_another_origin_is_blocked_by_the_browser(browser, cors_proxy, page_host, simulator):
    simulator.control("POST", "reset")
    result = run_in_page(browser, f"http://localhost:{page_host}", STREAM, cors_proxy.url, API_KEY)
    assert "blocked" in result and "Failed to fetch" in result["blocked"], result
    # The preflight failed, so the chat itself was never sent: no query reached the upstream.
    log = simulator.requests_log()
    assert not [entry for entry in log if "StreamAssist" in str(entry)], log


def test_an_allowed_page_reads_an_error_and_its_retry_after(browser, cors_proxy, page_host):
    script = """async ([url]) => {
      const response = await fetch(url + "/v1/chat/completions", {method: "POST",
        headers: {"Authorization": "Bearer wrong", "Content-Type": "application/json"}, body: "{}"});
      return {status: response.status, body: await response.json()};
    }"""
    result = run_in_page(browser, f"http://127.0.0.1:{page_host}", script, cors_proxy.url)
    assert result["status"] == 401 and result["body"]["error"]["code"] == "invalid_api_key"


def test_the_admin_api_is_blocked_even_for_an_allowed_page(browser, cors_proxy, page_host):
    script = """async ([url]) => {
      try {
        const response = await fetch(url + "/admin/accounts", {headers: {"Authorization": "Bearer x"}});
        return {status: response.status};
      } catch (error) { return {blocked: String(error)}; }
    }"""
    result = run_in_page(browser, f"http://127.0.0.1:{page_host}", script, cors_proxy.url)
    assert "blocked" in result, result


def test_off_by_default(proxy, page_host):
    answer = requests.options(f"{proxy.url}/v1/chat/completions", timeout=5, headers={
        "Origin": f"http://127.0.0.1:{page_host}", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in answer.headers
