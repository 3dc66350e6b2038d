"""The Images API surface: an ImageRequest (images_request.py) → image-model Turns → OpenAI's
ImagesResponse `{"created", "data": [{"url"} | {"b64_json"}], "usage"}`.

Each image is one upstream answer: Gemini Business's image model makes one image per answer
(§6.4), so `n` images are `n` answers. They run at once, each on the account the pool picks for
it (so they spread over accounts and the request lasts as long as its slowest image, not the
sum: one generation can take minutes); the first failure ends the others and is the answer,
all or nothing as OpenAI's. Each is read whole by the pipeline's own `read_whole`, with the
client's socket watched (app/hangup.py) and no deadline of the gateway's own, as a non-streamed
chat. An edit uploads its images into each answer's upstream session as a chat's files are
(Turn.files) and asks the image model to change them.

`usage` has the shape of gpt-image's (input_tokens, input_tokens_details {text_tokens,
image_tokens}, output_tokens, total_tokens) and carries the estimates every answer's usage
carries, summed over the n answers, as the request's usage record does (app/usage/): the
prompt's text and the text the model wrote. The upstream reports no token counts and an image's
tokens cannot be estimated from its bytes, so image tokens are 0, not invented.
"""
from __future__ import annotations

import contextvars
import threading
import time
from typing import Callable

from flask import current_app, request

from .. import chat, exchange, hangup, media
from ..answer.driver import read_whole
from ..answer.reply import Reply
from ..errors import ApiError
from ..upstream.models import IMAGE, Model
from .images_request import OPENAI_IMAGE_MODELS, ImageRequest, named

EDIT_PROMPT = "Edit the attached image{s} as follows: {prompt}"

Watch = Callable[[], None]


class Abandoned(Exception):
    """Another image of the same request failed: this one is no longer wanted."""


def answer(services: chat.Services, image_request: ImageRequest) -> dict:
    """The ImagesResponse body for `image_request`, or an error (ApiError, upstream error)."""
    model = image_model(services, image_request.model)
    output = "base64" if image_request.response_format == "b64_json" else "url"
    publish = media.publisher(current_app.extensions["gbp.media"], output, request.host_url)
    turn = chat.Turn(text=query(image_request), model=model, files=image_request.images)
    replies = all_at_once([lambda watch: read_whole(services, turn, publish, watch)] * image_request.n,
                          hangup.watcher())
    return images_body(replies, image_request.response_format, image_request.output_format, int(time.time()))


def image_model(services: chat.Services, name: str | None) -> Model:
    catalogue = services.catalogue
    default = catalogue.first(IMAGE)
    if name is None or named(name, OPENAI_IMAGE_MODELS):
        if default is None:
            raise ApiError(400, "This gateway offers no image model.", param="model", code="model_not_found")
        exchange.note_model(default.id)  # as Catalogue.choose notes a model named
        return default
    model = catalogue.choose(name)  # unknown: a 404 naming it
    if model.kind != IMAGE:
        raise ApiError(400, f"The model '{name}' makes {model.kind}, not images; use an image model such as "
                            f"'{default.id if default else 'none'}'.", param="model", code="unsupported_value")
    return model


def query(image_request: ImageRequest) -> str:
    """A generation's query is its prompt as written; an edit's says the attached images are
    what to change (with the files alone, the model may draw a new image beside them)."""
    if not image_request.edit:
        return image_request.prompt
    return EDIT_PROMPT.format(s="s" if len(image_request.images) > 1 else "", prompt=image_request.prompt)


def all_at_once(jobs: list[Callable[[Watch | None], Reply]], watch: Watch | None) -> list[Reply]:
    """Run every job (a whole answer) at once, each in its own thread (a greenlet under
    gevent), and return their replies in order. Each job gets a watch that raises as soon as
    any job has failed (its pump ends the upstream call within a second and frees the
    account) or the client hung up (`watch`); then the first failure is raised."""
    if len(jobs) == 1:
        return [jobs[0](watch)]
    failed = threading.Event()
    failures: list[BaseException] = []
    replies: list[Reply | None] = [None] * len(jobs)

    def watched() -> None:
        if failed.is_set():
            raise Abandoned()
        if watch is not None:
            watch()

    def run(i: int, job) -> None:
        try:
            replies[i] = job(watched)
        except BaseException as exc:  # handed to the request's greenlet, which raises the first
            failures.append(exc)
            failed.set()

    # each thread reads the request's context (its id in the log lines) through its own copy
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, i, job), daemon=True,
                                name="image-answer") for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return replies


def images_body(replies: list[Reply], response_format: str, output_format: str | None, created: int) -> dict:
    """OpenAI's ImagesResponse. An answer without an image is an error, never a short list:
    a refusal is OpenAI's 400 `content_policy_violation`, anything else a 502."""
    data = []
    for reply in replies:
        images = [f for f in reply.files if f.mime_type.startswith("image/")]
        if not images:
            raise no_image(reply)
        for image in images:
            if output_format and image.mime_type != f"image/{output_format}":
                raise ApiError(502, f"The image model made {image.mime_type}, not the {output_format} asked for.",
                               code="unexpected_output_format")
            data.append({"b64_json": data_url_payload(image.url)} if response_format == "b64_json"
                        else {"url": image.url})
    return {"created": created, "data": data, "usage": images_usage(replies)}


def images_usage(replies: list[Reply]) -> dict:
    """The answers' token estimates in gpt-image's usage shape (see the module docstring)."""
    prompt = sum(reply.usage.prompt_tokens for reply in replies)
    output = sum(reply.usage.text_tokens + reply.usage.reasoning_tokens for reply in replies)
    return {"input_tokens": prompt, "input_tokens_details": {"text_tokens": prompt, "image_tokens": 0},
            "output_tokens": output, "total_tokens": prompt + output}


def no_image(reply: Reply) -> ApiError:
    if reply.refusal:
        return ApiError(400, f"Gemini Business declined to make this image: {reply.refusal}",
                        param="prompt", code="content_policy_violation")
    said = " ".join(reply.text.split())
    return ApiError(502, "The image model answered without an image" + (f": {said[:300]}" if said else "."),
                    code="no_image_generated")


def data_url_payload(url: str) -> str:
    """The base64 of a `data:<type>;base64,<payload>` URL (media.publisher's base64 output)."""
    head, _, payload = url.partition(",")
    if not (head.startswith("data:") and head.endswith(";base64")):
        raise ValueError("not a base64 data URL")
    return payload
