"""The openai npm SDK on Node against gunicorn and the simulator (issue 9: real clients prove
files in). The SDK runs as a real client would, from tests/clients/*.mjs, installed at the
exact version of tests/clients/package.json by scripts/npm-clients.sh."""
import json

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS
from tests.integration.helpers import run_node, tiny_png, uploads
from tests.servers import ROOT

PINNED = json.loads((ROOT / "tests" / "clients" / "package.json").read_text())["dependencies"]


def test_a_picture_as_a_data_url_arrives_byte_for_byte_streamed_and_not(proxy, simulator, npm_clients, tmp_path):
    png = tiny_png()
    (tmp_path / "cat.png").write_bytes(png)
    out = run_node("openai_chat_image.mjs", npm_clients, OPENAI_BASE_URL=f"{proxy.url}/v1", OPENAI_API_KEY=API_KEY,
                   IMAGE_FILE=str(tmp_path / "cat.png"), MODEL="gemini-2.5-flash")
    assert out["sdk"] == PINNED["openai"]
    # the simulator's answer names the sha256 of the bytes it was given (simulator/replies.py)
    answer = reply_for("What is in this picture?", [], WORDS, files=[("image/png", png)]).text
    assert out["create"] == {"content": answer, "finish": "stop"}
    assert out["stream"]["content"] == answer and out["stream"]["finish"] == "stop"
    assert out["stream"]["usage"]["completion_tokens"] > 0
    assert len(uploads(simulator)) == 2  # one new conversation per request, one upload each
