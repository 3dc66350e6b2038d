"""The Images API's request parser (app/openai/images_request.py) and what images.py does with
the answers: defaults, every refusal naming its param, multipart fields typed like their JSON
twins, uploads typed by their bytes and capped; the ImagesResponse body and its errors."""
import base64
import io
import threading
import time

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict

from app.answer.events import FileOut, Usage
from app.answer.reply import Reply
from app.errors import ApiError
from app.fetch_url import FileTooLarge
from app.inputs import image_type
from app.openai import images
from app.openai.images_request import MAX_IMAGES, ImageRequest, parse_edit, parse_edit_json, parse_generation

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20


def refused(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    assert caught.value.status == 400 and caught.value.message
    return caught.value


def test_a_prompt_alone_is_one_url_image_of_the_default_model():
    assert parse_generation({"prompt": "a fox"}) == ImageRequest("a fox", None, 1, "url", None, ())


def test_what_means_the_default_is_accepted():
    request = parse_generation({"prompt": "a fox", "model": "nano-banana-2", "n": MAX_IMAGES,
                                "response_format": "b64_json", "size": "auto", "quality": "standard",
                                "background": "auto", "moderation": "auto", "output_format": "png",
                                "style": None, "stream": False, "partial_images": 0, "user": "u-1",
                                "unknown_field": [1]})
    assert (request.model, request.n, request.response_format, request.output_format) == \
        ("nano-banana-2", MAX_IMAGES, "b64_json", "png")


@pytest.mark.parametrize("body, param, code", [
    ({}, "prompt", "missing_required_parameter"),
    ({"prompt": ""}, "prompt", "invalid_value"),
    ({"prompt": ["a"]}, "prompt", "invalid_type"),
    ({"prompt": "x", "model": ""}, "model", "invalid_value"),
    ({"prompt": "x", "n": 0}, "n", "invalid_value"),
    ({"prompt": "x", "n": MAX_IMAGES + 1}, "n", "invalid_value"),
    ({"prompt": "x", "n": True}, "n", "invalid_type"),
    ({"prompt": "x", "n": 1.5}, "n", "invalid_type"),
    ({"prompt": "x", "stream": True}, "stream", "unsupported_value"),
    ({"prompt": "x", "partial_images": 2}, "partial_images", "unsupported_value"),
    ({"prompt": "x", "response_format": "b64"}, "response_format", "invalid_value"),
    ({"prompt": "x", "size": "512x512"}, "size", "unsupported_value"),
    ({"prompt": "x", "quality": "high"}, "quality", "unsupported_value"),
    ({"prompt": "x", "background": "opaque"}, "background", "unsupported_value"),
    ({"prompt": "x", "moderation": "low"}, "moderation", "unsupported_value"),
    ({"prompt": "x", "output_format": "jpeg"}, "output_format", "unsupported_value"),
    ({"prompt": "x", "style": "natural"}, "style", "unsupported_parameter"),
    ({"prompt": "x", "output_compression": 50}, "output_compression", "unsupported_parameter"),
    ({"prompt": "x", "user": 5}, "user", "invalid_type"),
])
def test_what_cannot_be_honoured_is_a_400_naming_the_param(body, param, code):
    error = refused(parse_generation, body)
    assert (error.param, error.code) == (param, code)


def upload(data: bytes, name: str = "in.png", content_type: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


def test_an_edit_types_its_image_by_its_bytes_and_reads_form_fields_as_json_types():
    files = MultiDict([("image", upload(PNG, "photo.png", "application/octet-stream"))])
    form = MultiDict([("prompt", "add a hat"), ("n", "2"), ("response_format", "b64_json"), ("stream", "false")])
    request = parse_edit(form, files, 1000)
    [image] = request.images
    assert (image.data, image.mime_type, image.name, image.param) == (PNG, "image/png", "photo.png", "image")
    assert (request.prompt, request.n, request.response_format, request.edit) == ("add a hat", 2, "b64_json", True)


def picture(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 10, 10)).save(out, format=kind)
    return out.getvalue()


def test_several_images_under_image_and_image_brackets_keep_their_order_and_go_as_png_or_jpeg():
    files = MultiDict([("image[]", upload(picture("GIF"), "a.gif")), ("image[]", upload(picture("WEBP"), "../b.webp")),
                       ("image[]", upload(picture("JPEG"), ""))])
    request = parse_edit(MultiDict([("prompt", "merge")]), files, 10_000)
    assert [(i.mime_type, i.name, i.param) for i in request.images] == [
        ("image/png", "a.png", "image[0]"), ("image/png", "b.png", "image[1]"), ("image/jpeg", "file.jpeg", "image[2]")]
    assert all(Image.open(io.BytesIO(i.data)).size == (3, 2) for i in request.images)


def test_an_image_that_does_not_decode_is_a_400_naming_it():
    files = MultiDict([("image", upload(b"GIF89a" + b"\x00" * 8, "broken.gif"))])
    error = refused(parse_edit, MultiDict([("prompt", "x")]), files, 10_000)
    assert (error.param, error.code) == ("image", "invalid_image")


@pytest.mark.parametrize("form, files, param, code", [
    ([("prompt", "x")], [], "image", "missing_required_parameter"),
    ([("prompt", "x"), ("image", "http://example.com/a.png")], [], "image", "invalid_type"),
    ([("prompt", "x")], [("image", b"%PDF-1.4 not an image")], "image", "unsupported_file_type"),
    ([("prompt", "x")], [("image", b"")], "image", "invalid_value"),
    ([("prompt", "x")], [("image", PNG), ("mask", PNG)], "mask", "unsupported_value"),
    ([("prompt", "x")], [("image", PNG)] * 17, "image", "invalid_value"),
    ([("prompt", "x"), ("n", "two")], [("image", PNG)], "n", "invalid_type"),
    ([("prompt", "x"), ("n", "0")], [("image", PNG)], "n", "invalid_value"),
    ([("prompt", "x"), ("n", "0" * 5000 + "1")], [("image", PNG)], "n", "invalid_value"),  # past int()'s digits
    ([("prompt", "x"), ("stream", "true")], [("image", PNG)], "stream", "unsupported_value"),
    ([("prompt", "x"), ("stream", "yes")], [("image", PNG)], "stream", "invalid_type"),
    ([("prompt", "x"), ("input_fidelity", "high")], [("image", PNG)], "input_fidelity", "unsupported_parameter"),
    ([("prompt", "x"), ("size", "1024x1024")], [("image", PNG)], "size", "unsupported_value"),
    ([], [("image", PNG)], "prompt", "missing_required_parameter"),
])
def test_bad_edits_are_400s_naming_the_field(form, files, param, code):
    error = refused(parse_edit, MultiDict(form), MultiDict([(k, upload(v)) for k, v in files]), 1000)
    assert (error.param, error.code) == (param, code)


def test_an_upload_over_max_file_mb_is_refused_without_reading_it_all():
    stream = io.BytesIO(PNG + b"\x00" * 2000)
    with pytest.raises(FileTooLarge) as caught:
        parse_edit(MultiDict([("prompt", "x")]), MultiDict([("image", FileStorage(stream, "big.png"))]), 1000)
    assert caught.value.param == "image" and stream.tell() == 1001


def test_image_types_are_known_by_their_signatures():
    assert image_type(PNG) == "image/png" and image_type(b"GIF87a...") == "image/gif"
    assert image_type(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None and image_type(b"<svg") is None
    assert [image_type(picture(kind)) for kind in ("WEBP", "BMP", "TIFF", "JPEG")] == [
        "image/webp", "image/bmp", "image/tiff", "image/jpeg"]


# --- images.py: the answers into OpenAI's ImagesResponse ----------------------------------------

USAGE = Usage(1, 0, 0)


def reply(*files: FileOut, text: str = "", refusal: str | None = None) -> Reply:
    return Reply(text, "", refusal, "content_filter" if refusal else "stop", USAGE, files)


def test_the_body_has_a_url_or_the_base64_of_each_image():
    made = reply(FileOut("data:image/png;base64,iVBORw0KGgo=", "image/png", "a.png"))
    two = {"input_tokens": 2, "input_tokens_details": {"text_tokens": 2, "image_tokens": 0},
           "output_tokens": 0, "total_tokens": 2}  # the two answers' estimates summed
    assert images.images_body([made, made], "b64_json", "png", 7) == {
        "created": 7, "data": [{"b64_json": "iVBORw0KGgo="}, {"b64_json": "iVBORw0KGgo="}], "usage": two}
    linked = reply(FileOut("https://gw/v1/files/file-1/content?x", "image/png"))
    assert images.images_body([linked], "url", None, 7)["data"] == [{"url": "https://gw/v1/files/file-1/content?x"}]


def test_an_answer_without_an_image_is_an_error_never_a_short_list():
    with pytest.raises(ApiError) as caught:
        images.images_body([reply(FileOut("u", "image/png")), reply(text="I cannot draw that.")], "url", None, 7)
    assert (caught.value.status, caught.value.code) == (502, "no_image_generated")
    assert "I cannot draw that." in caught.value.message
    with pytest.raises(ApiError) as caught:
        images.images_body([reply(refusal="Blocked by policy.")], "url", None, 7)
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, "content_policy_violation", "prompt")


def test_an_image_of_another_format_than_asked_is_an_error():
    with pytest.raises(ApiError) as caught:
        images.images_body([reply(FileOut("u", "image/jpeg"))], "url", "png", 7)
    assert caught.value.status == 502 and "image/jpeg" in caught.value.message


def test_an_edit_says_the_attached_images_are_what_to_change():
    assert images.query(ImageRequest("a fox")) == "a fox"
    one = parse_edit(MultiDict([("prompt", "add a hat")]), MultiDict([("image", upload(PNG))]), 1000)
    assert images.query(one) == "Edit the attached image as follows: add a hat"


def test_all_at_once_runs_together_and_the_first_failure_abandons_the_rest():
    started = threading.Barrier(3, timeout=5)  # all three jobs run at the same time, or this times out

    def good(watch):
        started.wait()
        return "ok"
    assert images.all_at_once([good] * 3, None) == ["ok"] * 3

    seen = []

    def fails(watch):
        raise ApiError(502, "first")

    def waits(watch):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                watch()
            except images.Abandoned as exc:
                seen.append(exc)
                raise
            time.sleep(0.01)
        return "never abandoned"
    with pytest.raises(ApiError, match="first"):
        images.all_at_once([waits, fails, waits], None)
    assert len(seen) == 2


def test_all_at_once_passes_the_clients_watch_on():
    def gone():
        raise ApiError(499, "gone")

    def waits(watch):
        watch()
        return "not watched"
    with pytest.raises(ApiError, match="gone"):
        images.all_at_once([waits, waits], gone)


@pytest.mark.parametrize("model, default", [(None, "url"), ("dall-e-3", "url"), ("nano-banana-2", "url"),
                                            ("gpt-image-1", "b64_json"), ("GPT-Image-1-mini", "b64_json")])
def test_response_format_defaults_to_what_the_named_openai_model_answers(model, default):
    assert parse_generation({"prompt": "x", "model": model}).response_format == default
    assert parse_generation({"prompt": "x", "model": model, "response_format": "url"}).response_format == "url"


def test_a_json_edit_loads_its_image_urls_after_checking_the_rest():
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    request = parse_edit_json({"prompt": "x", "images": [{"image_url": url}, {"image_url": url}], "n": 2}, 1000)
    assert [(i.data, i.mime_type, i.param) for i in request.images] == [
        (PNG, "image/png", "images[0].image_url"), (PNG, "image/png", "images[1].image_url")]
    assert request.n == 2 and request.edit
    # a bad field is refused before any image is loaded (an http URL here would be fetched)
    error = refused(parse_edit_json, {"prompt": "x", "size": "256x256",
                                      "images": [{"image_url": "https://example.com/a.png"}]}, 1000)
    assert error.param == "size"


@pytest.mark.parametrize("body, param, code", [
    ({"prompt": "x"}, "images", "missing_required_parameter"),
    ({"prompt": "x", "images": []}, "images", "invalid_value"),
    ({"prompt": "x", "images": "data:image/png;base64,AAAA"}, "images", "invalid_type"),
    ({"prompt": "x", "images": ["a.png"]}, "images[0]", "invalid_type"),
    ({"prompt": "x", "images": [{}]}, "images[0].image_url", "missing_required_parameter"),
    ({"prompt": "x", "images": [{"file_id": "file-1"}]}, "images[0].file_id", "unsupported_value"),
    ({"prompt": "x", "images": [{"image_url": 5}]}, "images[0].image_url", "invalid_type"),
    ({"prompt": "x", "images": [{"image_url": "data:image/png;base64,aGk="}]}, "images[0].image_url",
     "unsupported_file_type"),
    ({"prompt": "x", "images": [{"image_url": "data:image/png;base64,AAAA"}], "mask": {"image_url": "x"}}, "mask",
     "unsupported_value"),
])
def test_bad_json_edits_are_400s_naming_the_field(body, param, code):
    error = refused(parse_edit_json, body, 1000)
    assert (error.param, error.code) == (param, code)
