"""Image types Gemini Business refuses reach it as PNG (issue 9 §2), through gunicorn and the
simulator, whose upload check follows the protocol notes (PNG, JPEG, PDF, plain text only)."""
import base64
import hashlib
import io
import struct

import openai
import pytest
import requests
from PIL import Image

from tests.integration.helpers import auth, data_url, openai_client


def encoded(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def uploaded(simulator):
    """(mimeType, fileName, bytes) of each upload the simulator took."""
    return [(r["body"]["addContextFileRequest"]["mimeType"], r["body"]["addContextFileRequest"]["fileName"],
             base64.b64decode(r["body"]["addContextFileRequest"]["fileContents"]))
            for r in simulator.requests_log() if r["path"].endswith("widgetAddContextFile") and r["status"] == 200]


def test_an_openai_chat_with_a_webp_data_url_reaches_the_upstream_as_png(proxy, simulator):
    original = Image.new("RGB", (6, 4), (10, 200, 30))
    original.putpixel((5, 3), (250, 0, 0))
    webp = encoded(original, "WEBP", lossless=True)
    completion = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": data_url("image/webp", webp)}}]}])
    [(mime, name, data)] = uploaded(simulator)
    assert (mime, name) == ("image/png", "file.png")
    png = Image.open(io.BytesIO(data))
    assert png.format == "PNG" and png.convert("RGB").tobytes() == original.tobytes()
    # what the upstream read is exactly what was uploaded
    assert (f"Attached file 1: image/png, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}."
            in completion.choices[0].message.content)


def test_a_native_animated_gif_goes_up_as_its_first_frame(proxy, simulator):
    frames = [Image.new("RGB", (3, 3), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    sid = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10, json={
        "session_id": sid, "message": "what colour?",
        "files": [{"data": base64.b64encode(gif).decode(), "mime_type": "image/gif", "name": "spin.gif"}]})
    assert response.status_code == 200, response.text
    [(mime, name, data)] = uploaded(simulator)
    assert (mime, name) == ("image/png", "spin.png")
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == frames[0].tobytes()


def bomb() -> bytes:
    """A 40-byte GIF whose header claims a 65535 x 65535 canvas (4.3 billion pixels)."""
    gif = bytearray(encoded(Image.new("P", (2, 2)), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(gif)


@pytest.mark.parametrize("data, code", [(bomb(), "image_too_large"), (b"GIF89a\x01\x00broken", "invalid_image")],
                         ids=["bomb", "broken"])
def test_a_bomb_or_a_broken_image_is_a_400_naming_the_part(proxy, simulator, data, code):
    seen = len(proxy.output())
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url("image/gif", data)}}]}])
    error = excinfo.value.response.json()["error"]
    assert (error["code"], error["param"]) == (code, "messages[0].content[0].image_url.url")
    assert uploaded(simulator) == []
    # the worker is fine afterwards, and a client's bad image is no crash in its log
    assert requests.get(f"{proxy.url}/health", timeout=10).status_code == 200
    assert not [line for line in proxy.output()[seen:] if "Traceback" in line], "\n".join(proxy.output()[seen:])


def test_an_images_edit_with_a_webp_uploads_a_png(proxy, simulator):
    original = Image.new("RGB", (4, 4), (0, 120, 255))
    webp = encoded(original, "WEBP", lossless=True)
    openai_client(proxy).images.edit(image=[("fox.webp", webp, "image/webp")], prompt="add a scarf",
                                     response_format="b64_json")
    [(mime, name, data)] = uploaded(simulator)
    assert (mime, name) == ("image/png", "fox.png")
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == original.tobytes()
