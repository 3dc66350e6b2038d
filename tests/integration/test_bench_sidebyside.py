"""bench.sidebyside does not rot: its fake upstream speaks the OpenAI dialect (checked with the
openai SDK, as LiteLLM's own client would read it), the load generator reads its answers, and
the command's --help works. No timing is asserted: the benchmark is a command, not a test."""
import subprocess
import sys

import openai
import pytest
import requests

from bench.contestants import Direct
from bench.loadgen import Pool, closed_loop
from tests.servers import ROOT

WORDS = "word0 word1 word2 word3 word4 "


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    direct = Direct(tmp_path_factory.mktemp("fake"), ttfb=0.0, chunks=5, chunk_delay=0.0)
    yield direct
    direct.stop()


@pytest.fixture
def client(fake):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{fake.port}/v1", api_key="sk-any", max_retries=0, timeout=10)


def test_non_streamed_completion(client):
    completion = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert completion.object == "chat.completion" and completion.model == "fake-model"
    [choice] = completion.choices
    assert choice.message.role == "assistant" and choice.message.content == WORDS
    assert choice.finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_completion_has_one_chunk_per_word_then_stop_and_usage(client):
    chunks = list(client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert contents == [f"word{i} " for i in range(5)]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


def test_invalid_request_is_an_openai_error(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="fake-model", messages=[])
    assert raised.value.body["type"] == "invalid_request_error"


def test_timing_knobs_change_at_run_time(fake, client):
    url = f"http://127.0.0.1:{fake.port}/__fake__/settings"
    assert requests.post(url, json={"chunks": 3}, timeout=5).json()["chunks"] == 3
    try:
        completion = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content == "word0 word1 word2 "
        assert requests.post(url, json={"speed": 1}, timeout=5).status_code == 400
    finally:
        requests.post(url, json={"chunks": 5}, timeout=5).raise_for_status()


@pytest.mark.parametrize("stream", [False, True])
def test_load_generator_reads_the_fake_answers_on_kept_alive_connections(fake, stream):
    pool = Pool(fake.port, timeout=10)
    results = closed_loop(pool, fake.exchange(stream), 5)
    assert [r.error for r in results] == [None] * 5
    assert all(0 < r.first_content <= r.total for r in results)
    assert len(pool.idle) == 1  # one connection served all five
    pool.close()


def test_help_works():
    done = subprocess.run([sys.executable, "-m", "bench.sidebyside", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--install-litellm" in done.stdout and "--quick" in done.stdout
