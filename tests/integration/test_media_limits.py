"""Limits on generated files (issue 9 §3), against real gunicorn and the simulator: a file
larger than MEDIA_MAX_MB (it cannot be kept) or MAX_FILE_MB (it is not downloaded whole) is a
clear error, a status for a whole answer and the in-band error frame for a stream; and a media
answer whose text max_tokens or stop ends early still shows its file (they limit text, the file
is what was asked for)."""
import json

import pytest
import requests

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS, proxy_env
from tests.servers import Gunicorn

MB = 1024 * 1024


@pytest.fixture(scope="module")
def gateway(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, MEDIA_MAX_MB="1", MAX_FILE_MB="2",
                                # a hang guard only: making a video of several MB on a loaded
                                # machine took longer than the fixtures' 3 s (a 504, not the limit)
                                UPSTREAM_READ_TIMEOUT="30"),
                      workers=1)
    yield server
    server.stop()


def post(gateway, model, prompt, stream, **extra):
    return requests.post(f"{gateway.url}/v1/chat/completions", timeout=30, headers={"Authorization": f"Bearer {API_KEY}"},
                         json={"model": model, "stream": stream, "messages": [{"role": "user", "content": prompt}],
                               **extra})


def frames(response) -> list:
    assert response.status_code == 200, response.text
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize("size, code", [(MB + MB // 2, "media_too_large"), (2 * MB + MB // 2, "file_too_large")],
                         ids=["over MEDIA_MAX_MB", "over MAX_FILE_MB"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_generated_file_over_the_limits_is_a_clear_error(gateway, simulator, size, code, stream):
    simulator.control("PATCH", "settings", json={"video_bytes": size})
    response = post(gateway, "veo-3.1-lite-generate", f"a long video ({size}, {stream})", stream)
    if not stream:
        assert response.status_code == 502, response.text
        error = response.json()["error"]
    else:
        sent = frames(response)
        error = sent[-1]["error"]
        assert not [f for f in sent if f.get("choices") and f["choices"][0]["finish_reason"]]  # no false success
    assert error["code"] == code
    assert ("MEDIA_MAX_MB" if code == "media_too_large" else "MAX_FILE_MB") in error["message"]


@pytest.mark.parametrize("limits, reason", [({"max_tokens": 2}, "length"), ({"stop": ["This is the first"]}, "stop")],
                         ids=["max_tokens", "stop"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_image_answer_cut_by_the_limits_still_shows_its_image(gateway, simulator, limits, reason, stream):
    simulator.control("PATCH", "settings", json={"media_text": True})  # text, then the file reply
    prompt = f"a fox and a word about it ({reason}, {stream})"
    assert "This is the first" in reply_for(prompt, [], WORDS).text  # so the stop sequence is met
    response = post(gateway, "nano-banana-2", prompt, stream, **limits)
    if not stream:
        assert response.status_code == 200, response.text
        [choice] = response.json()["choices"]
        content, finish = choice["message"]["content"], choice["finish_reason"]
    else:
        sent = [f for f in frames(response) if f.get("choices")]
        content = "".join(f["choices"][0]["delta"].get("content") or "" for f in sent)
        finish = [f["choices"][0]["finish_reason"] for f in sent if f["choices"][0]["finish_reason"]][0]
    assert finish == reason
    text, link = content.split("![image](", 1)
    assert len(text) < len(reply_for(prompt, [], WORDS).text) / 2  # the text was cut
    assert requests.get(link.split(")", 1)[0], timeout=10).headers["content-type"] == "image/png"
