"""Generated images and videos reach the client (issue 9 §3), against real gunicorn (2 gevent
workers), the simulator and three accounts: the openai SDK's chat with an image or video model
gets a Markdown link in its content, the link (no API key) gives the bytes the simulator made
byte for byte, MEDIA_OUTPUT=base64 puts them in a data: URL instead, the native API lists them,
and a download that fails is an error the client sees, never an empty success."""
import base64
import json
import re

import openai
import pytest
import requests

from simulator.media import mp4_for, png_for
from tests.integration.conftest import API_KEY
from tests.integration.helpers import gateway_env, openai_client, simulator_fixtures
from tests.servers import Gunicorn

UUID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ACCOUNTS = [{"id": f"media{n}@example.com", "secure_c_ses": f"media-cookie-{n}", "csesidx": f"84000{n}",
             "config_id": UUID} for n in (1, 2, 3)]
LINK = re.compile(r"!?\[(image|video)\]\(([^)\s]+)\)")


sim, clean = simulator_fixtures("media-sim", ACCOUNTS)


@pytest.fixture(scope="module")
def gateway(sim, tmp_path_factory):
    server = Gunicorn(gateway_env(sim, tmp_path_factory))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def inline_gateway(sim, tmp_path_factory):
    server = Gunicorn(gateway_env(sim, tmp_path_factory, MEDIA_OUTPUT="base64"), workers=1)
    yield server
    server.stop()


def query_seen(sim) -> str:
    """The query text the simulator made the file from (it hashes the whole of it)."""
    # a 404 before it is a spare session the simulator's reset forgot: the gateway asks again
    [sent] = [r for r in sim.requests_log() if r["verb"] == "widgetStreamAssist" and r["status"] == 200]
    request = sent["body"]["streamAssistRequest"]
    return request["query"]["parts"][0]["text"], request["toolsSpec"]


def ask(gateway, model: str, prompt: str, stream: bool) -> str:
    client = openai_client(gateway, timeout=30)
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def fetched(url: str) -> requests.Response:
    response = requests.get(url, timeout=10)  # no API key: the signature is the permission
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("stream", [False, True])
def test_an_image_model_answers_with_a_link_to_the_generated_png(sim, gateway, stream):
    content = ask(gateway, "nano-banana-2", f"a red fox in the snow ({stream})", stream)
    [(label, url)] = LINK.findall(content)
    assert label == "image" and content.startswith("![image](") and url.startswith(gateway.url + "/v1/files/")
    query, tools = query_seen(sim)
    assert tools == {"imageGenerationSpec": {}}
    response = fetched(url)
    assert response.content == png_for(query)
    assert response.headers["content-type"].startswith("image/png")


@pytest.mark.parametrize("stream", [False, True])
def test_a_video_model_answers_with_a_link_to_the_generated_mp4(sim, gateway, stream):
    content = ask(gateway, "veo-3.1-lite-generate", f"waves on a beach ({stream})", stream)
    [(label, url)] = LINK.findall(content)
    assert label == "video" and content.startswith("[video](")
    query, tools = query_seen(sim)
    assert tools == {"videoGenerationSpec": {}}
    assert fetched(url).content == mp4_for(query)


@pytest.mark.parametrize("stream", [False, True])
def test_media_output_base64_puts_the_bytes_in_a_data_url(sim, inline_gateway, stream):
    content = ask(inline_gateway, "gemini-3.1-flash-image", f"a blue bird ({stream})", stream)
    [(label, url)] = LINK.findall(content)
    prefix = "data:image/png;base64,"
    assert label == "image" and url.startswith(prefix)
    assert base64.b64decode(url[len(prefix):]) == png_for(query_seen(sim)[0])


def test_media_models_are_listed(gateway):
    ids = [m.id for m in openai_client(gateway).models.list()]
    assert {"nano-banana-2", "gemini-3.1-flash-image", "veo-3.1-lite-generate"} <= set(ids)


def test_a_generation_slower_than_the_keepalive_interval_still_answers_whole(sim, gateway):
    """Non-stream: nothing reaches the client while the image is made; the answer still comes."""
    sim.control("PATCH", "settings", json={"image_seconds": 2})
    content = ask(gateway, "nano-banana-2", "a slow painting", stream=False)
    [(_, url)] = LINK.findall(content)
    assert fetched(url).content == png_for(query_seen(sim)[0])


def test_a_failed_download_is_an_error_not_an_empty_answer(sim, gateway):
    sim.fault("http_error", verb="downloadFile", status=500, count=-1)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway, "nano-banana-2", "a lost picture", stream=False)
    assert caught.value.status_code >= 500 and caught.value.body["message"]

    response = requests.post(f"{gateway.url}/v1/chat/completions", timeout=30, stream=True,
                             headers={"Authorization": f"Bearer {API_KEY}"},
                             json={"model": "nano-banana-2", "stream": True,
                                   "messages": [{"role": "user", "content": "another lost picture"}]})
    frames = [json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True)
              if line.startswith("data: ") and line != "data: [DONE]"]
    assert "error" in frames[-1] and frames[-1]["error"]["message"]
    assert not [f for f in frames if f.get("choices") and f["choices"][0]["finish_reason"]]
    assert not "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f.get("choices"))


@pytest.mark.parametrize("stream", [False, True])
def test_the_native_api_lists_the_generated_file(sim, gateway, stream):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    created = requests.post(f"{gateway.url}/gemini/sessions", json={"model": "nano-banana-2"},
                            headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    body = {"session_id": created.json()["session_id"], "message": f"a green hill ({stream})", "stream": stream}
    response = requests.post(f"{gateway.url}/gemini/chat", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    if stream:
        files = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
                 and json.loads(line[6:]).get("type") == "file"]
    else:
        files = response.json()["files"]
    [file] = files
    assert file["mime_type"] == "image/png"
    assert fetched(file["url"]).content == png_for(query_seen(sim)[0])
