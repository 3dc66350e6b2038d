"""The openai SDK (sync, async, streaming) against gunicorn+gevent and the simulator."""
import asyncio

import openai
import pytest

from tests.integration.helpers import async_client, expected, openai_client, stream_assist_queries

QUESTION = "Bonjour — 你好, what is \"2+2\"?"


def test_non_streamed_completion_is_exactly_the_simulator_reply(proxy, simulator):
    client = openai_client(proxy)
    completion = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": QUESTION}], temperature=0.7)
    reply = expected(QUESTION)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-") and isinstance(completion.created, int)
    assert completion.model == "gpt-3.5-turbo"
    [choice] = completion.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == reply.text
    assert choice.message.reasoning_content == "\n\n".join(reply.thoughts)
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert usage.completion_tokens_details.reasoning_tokens > 0
    assert stream_assist_queries(simulator) == [QUESTION]


def test_streamed_completion_with_usage(proxy):
    client = openai_client(proxy)
    chunks = list(client.chat.completions.create(
        model="gemini-2.5-pro", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True}))
    reply = expected(QUESTION)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert {c.model for c in chunks} == {"gemini-2.5-pro"}
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in with_choices[1:])
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert "".join(c.choices[0].delta.content or "" for c in with_choices) == reply.text
    assert "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in with_choices) \
        == "\n\n".join(reply.thoughts)
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_empty_choices(proxy):
    client = openai_client(proxy)
    chunks = list(client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected("hi").text


def test_streamed_and_non_streamed_text_are_identical(proxy):
    client = openai_client(proxy)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Same?"}]
    whole = client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True))
    assert whole == streamed


def test_stream_helper_accumulates_the_completion(proxy):
    client = openai_client(proxy)
    with client.chat.completions.stream(model="gpt-4o-mini",
                                        messages=[{"role": "user", "content": "helper"}]) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert {"chunk", "content.delta", "content.done"} <= kinds
    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].message.content == expected("helper").text


def test_async_client_create_and_stream(proxy):
    async def run():
        client = async_client(proxy)
        completion = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "async"}])
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "async stream"}], stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        async with client.chat.completions.stream(
                model="gpt-4o", messages=[{"role": "user", "content": "async helper"}]) as helper:
            final = await helper.get_final_completion()
        await client.close()
        return completion.choices[0].message.content, text, final.choices[0].message.content

    assert asyncio.run(run()) == (expected("async").text, expected("async stream").text,
                                  expected("async helper").text)


def test_concurrent_streams_stay_isolated(proxy):
    async def one(client, n):
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"question {n}"}], stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    async def run():
        client = async_client(proxy)
        try:
            return await asyncio.gather(*(one(client, n) for n in range(12)))
        finally:
            await client.close()

    assert asyncio.run(run()) == [expected(f"question {n}").text for n in range(12)]


def test_a_conversation_is_sent_whole_and_answered_from_its_last_message(proxy, simulator):
    client = openai_client(proxy)
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    content = client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
    [query] = stream_assist_queries(simulator)
    assert query == ("<system>\nYou are helpful.\n</system>\n\nUser: My name is Ada.\n\n"
                     "Assistant: Hello Ada.\n\nUser: What is my name?")
    assert content == expected(query).text


def test_models_endpoints(proxy):
    client = openai_client(proxy)
    ids = [m.id for m in client.models.list()]
    assert ids == ["gemini-business", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview",
                   "gemini-3.1-pro-preview",  # today's service (§14): gemini-3-pro-preview is gone
                   "nano-banana-2", "gemini-3.1-flash-image", "veo-3.1-lite-generate"]  # media, after text
    assert client.models.retrieve("gemini-2.5-flash").owned_by == "google"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("llama-9")  # claude-* names are aliases (Anthropic surface)
    assert caught.value.status_code == 404 and isinstance(caught.value.body, dict)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gemini-3-pro-preview", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found" and "'gemini-3.1-pro-preview'" in caught.value.message


def test_client_errors_are_the_right_exceptions(proxy):
    client = openai_client(proxy)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="llama-3", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[])
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                       max_tokens="many")
    assert caught.value.param == "max_tokens"
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(proxy, api_key="sk-wrong").models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_max_tokens_and_stop_are_honoured(proxy):
    client = openai_client(proxy)
    reply = expected("limits").text
    cut = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "limits"}],
                                         max_completion_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    assert reply.startswith(cut.choices[0].message.content) and len(cut.choices[0].message.content) < len(reply)
    stopped = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "limits"}],
                                             stop=["Unicode"], stream=True)
    chunks = list(stopped)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == reply[:reply.index("Unicode")]
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]


def test_raw_http_errors(proxy):
    import requests
    url = f"{proxy.url}/v1/chat/completions"
    missing = requests.post(url, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    broken = requests.post(url, data="{not json", headers={"Authorization": "Bearer sk-canary-key-4242",
                                                          "Content-Type": "application/json"}, timeout=10)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    unknown = requests.get(f"{proxy.url}/v1/embeddings", headers={"Authorization": "Bearer sk-canary-key-4242"},
                           timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
    for response in (missing, broken, unknown):
        assert response.headers["content-type"] == "application/json" and response.headers["x-request-id"]


def test_a_ready_made_session_saves_the_create_round_trip(open_proxy, simulator):
    """After one chat, the worker (open_proxy has one) holds an empty session for the next."""
    import time

    client = openai_client(open_proxy)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "warm up"}])
    deadline = time.monotonic() + 5
    while sum(r["path"].endswith("widgetCreateSession") and r["status"] == 200
              for r in simulator.requests_log()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    simulator.control("DELETE", "requests")
    content = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "fast"}])
    assert content.choices[0].message.content == expected("fast").text
    verbs = [r["path"].rsplit("/", 1)[-1] for r in simulator.requests_log()]
    assert verbs[0] == "widgetStreamAssist"  # no createSession before the answer was asked for
