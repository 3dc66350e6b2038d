"""The Images API (issue 9 §3): `POST /v1/images/generations` and `/v1/images/edits` through the
openai SDK, against real gunicorn (2 gevent workers), the simulator and three accounts. Every
image is compared byte for byte with the PNG the simulator made for the query it received; the
simulator's request log proves what went upstream (the tool, the uploaded file, its fileId)."""
import base64
import hashlib
import http.server
import io
import threading

import openai
import pytest
import requests
from PIL import Image

from app.output import estimate_tokens
from simulator.media import png_for
from tests.integration.conftest import API_KEY
from tests.integration.helpers import gateway_env, openai_client, simulator_fixtures, wait_for
from tests.integration.test_files_in import tiny_png
from tests.servers import Gunicorn, free_port

UUID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ACCOUNTS = [{"id": f"images{n}@example.com", "secure_c_ses": f"images-cookie-{n}", "csesidx": f"85000{n}",
             "config_id": UUID} for n in (1, 2, 3)]
AUTH = {"Authorization": f"Bearer {API_KEY}"}


sim, clean = simulator_fixtures("images-sim", ACCOUNTS)


@pytest.fixture(scope="module")
def gateway(sim, tmp_path_factory):
    server = Gunicorn(gateway_env(sim, tmp_path_factory, MAX_FILE_MB="1", MAX_REQUEST_MB="2"))
    yield server
    server.stop()


def client(gateway):
    return openai_client(gateway, timeout=30)


def answered(sim) -> list[dict]:
    """The widgetStreamAssist requests the upstream answered (a 404 before one is a spare
    session the simulator's reset forgot: the gateway asks again in a session made now)."""
    return [r["body"]["streamAssistRequest"] for r in sim.requests_log()
            if r["verb"] == "widgetStreamAssist" and r["status"] == 200]


def uploads(sim) -> list[dict]:
    return [r for r in sim.requests_log() if r["verb"] == "widgetAddContextFile" and r["status"] == 200]


def uploaded_files(sim, session: str) -> list[dict]:
    """The files a client uploaded into that upstream session, as the simulator keeps them."""
    [kept] = [s for s in sim.control("GET", "sessions")["sessions"] if s["name"] == session]
    return [f for f in kept["files"] if f["origin"] == "USER_UPLOADED"]


def fetched(url: str) -> bytes:
    response = requests.get(url, timeout=10)  # no API key: the signature is the permission
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/png")
    return response.content


def error_of(caught) -> dict:
    return caught.value.response.json()["error"]


# --- generations ------------------------------------------------------------------------------

def test_b64_json_is_the_png_the_simulator_made(sim, gateway):
    result = client(gateway).images.generate(prompt="a red fox in the snow", response_format="b64_json")
    [image] = result.data
    assert image.url is None and result.created > 0
    [sent] = answered(sim)
    assert sent["toolsSpec"] == {"imageGenerationSpec": {}} and "assistGenerationConfig" not in sent
    assert sent["query"]["parts"][0]["text"] == "a red fox in the snow"
    assert base64.b64decode(image.b64_json) == png_for("a red fox in the snow")


def test_url_is_a_signed_link_to_the_png_the_simulator_made(sim, gateway):
    result = client(gateway).images.generate(prompt="a blue whale", response_format="url", model="nano-banana-2")
    [image] = result.data
    assert image.b64_json is None and image.url.startswith(gateway.url + "/v1/files/")
    assert fetched(image.url) == png_for("a blue whale")


def test_url_is_the_default_and_openai_model_names_mean_the_image_model(sim, gateway):
    response = requests.post(f"{gateway.url}/v1/images/generations", headers=AUTH, timeout=30,
                             json={"prompt": "a green hill", "model": "dall-e-3", "size": "auto"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"created", "data", "usage"} and set(body["data"][0]) == {"url"}
    assert fetched(body["data"][0]["url"]) == png_for("a green hill")
    assert answered(sim)[0]["toolsSpec"] == {"imageGenerationSpec": {}}


def test_a_client_written_for_gpt_image_gets_b64_json_without_asking(sim, gateway):
    """OpenAI's GPT image models answer b64_json by default; a client written for them reads it."""
    result = client(gateway).images.generate(model="gpt-image-1", prompt="a lighthouse at night")
    assert result.data[0].url is None
    assert base64.b64decode(result.data[0].b64_json) == png_for("a lighthouse at night")


def test_n_images_are_n_upstream_answers_made_at_once(sim, gateway):
    sim.control("PATCH", "settings", json={"image_seconds": 1})
    result = client(gateway).images.generate(prompt="two cats", n=2, response_format="b64_json")
    assert [base64.b64decode(i.b64_json) for i in result.data] == [png_for("two cats")] * 2
    # the estimate each answer's usage carries, summed (the SDK's ImagesResponse.usage): the
    # prompt went to both; image tokens are not estimated
    prompt = 2 * estimate_tokens("two cats")
    usage = result.usage
    assert (usage.input_tokens, usage.input_tokens_details.text_tokens, usage.input_tokens_details.image_tokens,
            usage.total_tokens) == (prompt, prompt, 0, prompt + usage.output_tokens)
    calls = [r for r in sim.requests_log() if r["verb"] == "widgetStreamAssist" and r["status"] == 200]
    assert len(calls) == 2 and all(c["body"]["streamAssistRequest"]["toolsSpec"] == {"imageGenerationSpec": {}}
                                   for c in calls)
    assert len({c["body"]["streamAssistRequest"]["session"] for c in calls}) == 2
    first, second = sorted(calls, key=lambda c: c["time"])
    assert second["time"] < first["time"] + first["duration"]  # the second began before the first ended


@pytest.mark.parametrize("body, param, code", [
    ({}, "prompt", "missing_required_parameter"),
    ({"prompt": "  "}, "prompt", "invalid_value"),
    ({"prompt": 5}, "prompt", "invalid_type"),
    ({"prompt": "x", "n": 0}, "n", "invalid_value"),
    ({"prompt": "x", "n": 5}, "n", "invalid_value"),
    ({"prompt": "x", "n": "2"}, "n", "invalid_type"),
    ({"prompt": "x", "model": "gemini-2.5-flash"}, "model", "unsupported_value"),
    ({"prompt": "x", "model": "veo-3.1-lite-generate"}, "model", "unsupported_value"),
    ({"prompt": "x", "response_format": "png"}, "response_format", "invalid_value"),
    ({"prompt": "x", "size": "1024x1024"}, "size", "unsupported_value"),
    ({"prompt": "x", "quality": "hd"}, "quality", "unsupported_value"),
    ({"prompt": "x", "style": "vivid"}, "style", "unsupported_parameter"),
    ({"prompt": "x", "output_format": "webp"}, "output_format", "unsupported_value"),
    ({"prompt": "x", "background": "transparent"}, "background", "unsupported_value"),
    ({"prompt": "x", "stream": True}, "stream", "unsupported_value"),
])
def test_bad_generation_requests_are_400_envelopes_and_nothing_goes_upstream(sim, gateway, body, param, code):
    response = requests.post(f"{gateway.url}/v1/images/generations", headers=AUTH, json=body, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert error["message"]
    assert answered(sim) == []


def test_an_unknown_model_is_a_404_naming_it(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway).images.generate(prompt="x", model="no-such-model")
    assert error_of(caught)["param"] == "model" and "no-such-model" in error_of(caught)["message"]


def test_the_sdk_stream_flag_is_refused(gateway):
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).images.generate(prompt="x", stream=True)
    assert error_of(caught)["param"] == "stream"


def test_a_refused_prompt_is_a_content_policy_400_not_an_empty_list(sim, gateway):
    sim.fault("skip", verb="widgetStreamAssist", count=-1)
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway).images.generate(prompt="something forbidden")
    assert error_of(caught)["code"] == "content_policy_violation"


def test_a_failed_download_is_an_error_not_an_empty_list(sim, gateway):
    sim.fault("http_error", verb="downloadFile", status=500, count=-1)
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway).images.generate(prompt="a lost picture", n=2)
    assert caught.value.status_code >= 500 and error_of(caught)["message"]


def test_a_client_that_hangs_up_cancels_every_generation(sim, gateway):
    """Whole answers are watched like a non-streamed chat's: each upstream call ends when the
    client goes, not when the image is made (4 s here, under the 5 s UPSTREAM_READ_TIMEOUT)."""
    sim.control("PATCH", "settings", json={"image_seconds": 4})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{gateway.url}/v1/images/generations", headers=AUTH, timeout=1.5,
                      json={"prompt": "a slow picture", "n": 2})
    outcomes = wait_for(lambda: all_ended([r["outcome"] for r in sim.requests_log()
                                           if r["verb"] == "widgetStreamAssist" and r["status"] == 200]),
                        timeout=10, what="both upstream calls to end")
    assert outcomes == ["aborted", "aborted"]


def all_ended(outcomes: list[str]) -> list[str] | None:
    return outcomes if len(outcomes) == 2 and not {"pending", "streaming"} & set(outcomes) else None


# --- edits -------------------------------------------------------------------------------------

def test_an_edit_uploads_the_image_and_sends_its_file_id(sim, gateway, tmp_path):
    png = tiny_png()
    path = tmp_path / "fox.png"
    path.write_bytes(png)
    with path.open("rb") as image:
        result = client(gateway).images.edit(image=image, prompt="give the fox a scarf", response_format="b64_json")
    [upload] = uploads(sim)
    request = upload["body"]["addContextFileRequest"]
    assert base64.b64decode(request["fileContents"]) == png
    assert (request["mimeType"], request["fileName"]) == ("image/png", "fox.png")
    [sent] = answered(sim)
    assert sent["toolsSpec"] == {"imageGenerationSpec": {}}
    assert sent["session"] == request["name"]
    [uploaded] = uploaded_files(sim, sent["session"])
    assert uploaded["sha256"] == hashlib.sha256(png).hexdigest() and sent["fileIds"] == [uploaded["file_id"]]
    query = sent["query"]["parts"][0]["text"]
    assert query == "Edit the attached image as follows: give the fox a scarf"
    assert [base64.b64decode(i.b64_json) for i in result.data] == [png_for(query)]
    assert result.usage.input_tokens == result.usage.input_tokens_details.text_tokens == estimate_tokens(query)


def test_an_edit_of_several_images_as_urls_with_n_2(sim, gateway):
    first, second = tiny_png(), png_for("another input")
    result = client(gateway).images.edit(image=[("a.png", first, "image/png"), ("b.png", second, "image/png")],
                                         prompt="put them side by side", n=2)
    query = "Edit the attached images as follows: put them side by side"
    assert [fetched(i.url) for i in result.data] == [png_for(query)] * 2
    sent = answered(sim)
    assert len(sent) == 2 and sent[0]["session"] != sent[1]["session"]
    for one in sent:  # each answer's own session holds its own upload of both images, in order
        files = uploaded_files(sim, one["session"])
        assert one["fileIds"] == [f["file_id"] for f in files]
        assert [f["sha256"] for f in files] == [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]


def test_a_webp_to_edit_goes_upstream_as_png(sim, gateway):
    webp = io.BytesIO()
    Image.new("RGB", (4, 3), (0, 128, 255)).save(webp, format="WEBP")
    result = client(gateway).images.edit(image=("photo.webp", webp.getvalue(), "image/webp"), prompt="brighter")
    assert fetched(result.data[0].url) == png_for("Edit the attached image as follows: brighter")
    [upload] = uploads(sim)
    request = upload["body"]["addContextFileRequest"]
    assert (request["mimeType"], request["fileName"]) == ("image/png", "photo.png")
    assert Image.open(io.BytesIO(base64.b64decode(request["fileContents"]))).size == (4, 3)


def test_an_edit_sent_as_json_with_a_data_url_image(sim, gateway):
    png = tiny_png()
    response = requests.post(f"{gateway.url}/v1/images/edits", headers=AUTH, timeout=30, json={
        "prompt": "make it night", "response_format": "b64_json",
        "images": [{"image_url": "data:image/png;base64," + base64.b64encode(png).decode()}]})
    assert response.status_code == 200, response.text
    query = "Edit the attached image as follows: make it night"
    assert base64.b64decode(response.json()["data"][0]["b64_json"]) == png_for(query)
    [sent] = answered(sim)
    [uploaded] = uploaded_files(sim, sent["session"])
    assert uploaded["sha256"] == hashlib.sha256(png).hexdigest() and sent["fileIds"] == [uploaded["file_id"]]


def test_an_image_url_on_the_gateways_own_machine_is_refused_unfetched(sim, gateway):
    """The JSON edit's http(s) URLs go through the same SSRF guard as a chat's image_url."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = requests.post(f"{gateway.url}/v1/images/edits", headers=AUTH, timeout=10, json={
            "prompt": "x", "images": [{"image_url": f"http://127.0.0.1:{server.server_address[1]}/a.png"}]})
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("url_not_allowed", "images[0].image_url")
    assert hits == [] and uploads(sim) == [] and answered(sim) == []


def edit(gateway, **kwargs) -> requests.Response:
    return requests.post(f"{gateway.url}/v1/images/edits", timeout=10, **{"headers": AUTH, **kwargs})


@pytest.mark.parametrize("kwargs, param, code", [
    ({"files": {"image": ("notes.txt", b"just some text", "text/plain")}, "data": {"prompt": "x"}},
     "image", "unsupported_file_type"),
    ({"files": {"image": ("fake.png", b"GIF8 not really", "image/png")}, "data": {"prompt": "x"}},
     "image", "unsupported_file_type"),
    ({"files": {"image": ("broken.gif", b"GIF89a" + bytes(16), "image/gif")}, "data": {"prompt": "x"}},
     "image", "invalid_image"),
    ({"files": {"image": ("a.png", tiny_png(), "image/png"), "mask": ("m.png", tiny_png(), "image/png")},
      "data": {"prompt": "x"}}, "mask", "unsupported_value"),
    ({"files": {"image": ("a.png", tiny_png(), "image/png")}}, "prompt", "missing_required_parameter"),
    ({"data": {"prompt": "x"}, "files": {"other": ("a.png", tiny_png(), "image/png")}}, "image",
     "missing_required_parameter"),
    ({"files": {"image": ("a.png", tiny_png(), "image/png")}, "data": {"prompt": "x", "n": "9"}}, "n",
     "invalid_value"),
    ({"files": {"image": ("a.png", tiny_png(), "image/png")}, "data": {"prompt": "x", "n": "9" * 4301}}, "n",
     "invalid_value"),  # more digits than Python's int() converts
    ({"files": {"image": ("a.png", tiny_png(), "image/png")}, "data": {"prompt": "x", "output_compression": "1" * 5000}},
     "output_compression", "invalid_value"),
    ({"files": {"image": ("a.png", tiny_png(), "image/png")}, "data": {"prompt": "x", "model": "gemini-2.5-pro"}},
     "model", "unsupported_value"),
    ({"files": {"image": ("big.png", tiny_png() + bytes(1024 * 1024), "image/png")}, "data": {"prompt": "x"}},
     "image", "file_too_large"),
    ({"json": {"prompt": "x", "image": "a.png"}}, "images", "missing_required_parameter"),
    ({"json": {"prompt": "x", "images": [{"file_id": "file-abc"}]}}, "images[0].file_id", "unsupported_value"),
    ({"json": {"prompt": "x", "images": [{"image_url": "data:text/plain;base64,aGk="}]}}, "images[0].image_url",
     "unsupported_file_type"),
    ({"json": {"prompt": "x", "images": [{"image_url": "data:image/png;base64,aGk="}]}}, "images[0].image_url",
     "unsupported_file_type"),
    ({"json": {"prompt": "x", "images": [{"image_url": "data:image/png;base64," + base64.b64encode(tiny_png()).decode()}],
               "mask": {"image_url": "data:image/png;base64,aGk="}}}, "mask", "unsupported_value"),
    ({"data": "prompt=x", "headers": {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}}, None,
     "invalid_multipart"),
    ({"data": b"--xyz\r\nno headers here\r\n\r\nx\r\n--xyz--\r\n",
      "headers": {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}}, None, "invalid_multipart"),
    ({"data": b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncut he',
      "headers": {**AUTH, "Content-Type": "multipart/form-data; boundary=xyz"}}, None, "invalid_multipart"),
    ({"data": b"x", "headers": {**AUTH, "Content-Type": "multipart/form-data"}}, None, "invalid_multipart"),
])
def test_bad_edits_are_400_envelopes_and_nothing_goes_upstream(sim, gateway, kwargs, param, code):
    response = edit(gateway, **kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code) and error["message"]
    assert uploads(sim) == [] and answered(sim) == []


def test_an_edit_over_max_request_mb_is_a_413_chunked_or_not(sim, gateway):
    boundary = "bound"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + tiny_png()
    body = head + bytes(3 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    assert edit(gateway, data=body, headers=headers).status_code == 413

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]
    response = edit(gateway, data=chunks(), headers=headers)  # no Content-Length: the stream stops at the limit
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "request_too_large"
    assert uploads(sim) == [] and answered(sim) == []
