"""Chat conversations continue in their upstream session (issue 9 §4): the openai SDK against
gunicorn and the simulator, the simulator's request log as the proof of what went upstream."""
import hashlib

import pytest

from tests.integration.conftest import API_KEY, proxy_env
from tests.integration.helpers import expected, openai_client, wait_for
from tests.integration.test_files_in import data_url, tiny_png, uploads
from tests.servers import Gunicorn

MODEL = "gemini-2.5-flash"


def asks(simulator):
    """(session, query text, fileIds) of each widgetStreamAssist the upstream answered."""
    out = []
    for r in simulator.requests_log():
        if r["path"].endswith("widgetStreamAssist") and r["status"] == 200:
            request = r["body"]["streamAssistRequest"]
            out.append((request["session"], request["query"]["parts"][0]["text"], request["fileIds"]))
    return out


def created_sessions(simulator):
    return [r for r in simulator.requests_log() if r["path"].endswith("widgetCreateSession") and r["status"] == 200]


def say(client, messages, text, stream=False):
    """Send `messages` + a user message `text`; append both it and the answer; return the answer."""
    messages.append({"role": "user", "content": text})
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                     stream_options={"include_usage": True}))
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        completion = client.chat.completions.create(model=MODEL, messages=messages)
        answer, usage = completion.choices[0].message.content, completion.usage
    messages.append({"role": "assistant", "content": answer})
    return answer, usage


def test_ten_turns_send_one_transcript_then_nine_single_turns_in_one_session(proxy, simulator):
    client = openai_client(proxy)
    messages = [{"role": "system", "content": "Be brief."}]
    questions = [f"Question {n}: what comes after {n}?" for n in range(1, 11)]
    usages = []
    for n, question in enumerate(questions):
        answer, usage = say(client, messages, question, stream=n % 2 == 1)  # both shapes continue
        usages.append((usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens))
    log = asks(simulator)
    for session, query, _ in log:  # shown when the test fails, and by -s for the report
        print(session.rsplit("/", 1)[-1], repr(query))
    assert len(log) == 10
    sessions = {session for session, _, _ in log}
    assert len(sessions) == 1, "every turn went to the first turn's session"
    assert log[0][1] == f"<system>\nBe brief.\n</system>\n\n{questions[0]}"  # the whole (one-turn) transcript
    assert [query for _, query, _ in log[1:]] == questions[1:]  # then only the new message each time
    # the simulator answered each from the session's history: the conversation really went on there
    assert messages[-1]["content"] == expected(questions[-1], (log[0][1], *questions[1:-1])).text
    # the usage estimate counts the conversation the model reads, which grows, not the one line
    # sent; of it, cached_tokens is what the session already held
    prompts, cached = zip(*usages)
    assert list(prompts) == sorted(prompts) and prompts[-1] > prompts[1] > prompts[0]
    assert cached[0] == 0 and all(0 < c < p for p, c in usages[1:]) and list(cached) == sorted(cached)


def test_an_edited_earlier_turn_goes_whole_to_a_fresh_session(proxy, simulator):
    client = openai_client(proxy)
    messages = []
    for n in range(1, 7):
        say(client, messages, f"Turn {n}")
    [first] = {session for session, _, _ in asks(simulator)}
    edited = [dict(m) for m in messages]
    edited[8]["content"] = "Turn 5, said differently"  # the fifth user message
    say(client, edited, "Turn 7")
    session, query, _ = asks(simulator)[-1]
    assert session != first
    assert query.startswith("User: Turn 1\n\nAssistant: ") and "User: Turn 5, said differently" in query
    assert query.endswith("User: Turn 7")
    # the original conversation is still there to continue
    say(client, messages, "Turn 7 again")
    assert asks(simulator)[-1][:2] == (first, "Turn 7 again")


def test_a_session_the_upstream_forgot_falls_back_to_the_transcript(proxy, simulator):
    client = openai_client(proxy)
    messages = []
    say(client, messages, "Remember the number 7.")
    simulator.fault("http_error", status=404, verb="widgetStreamAssist", count=1)
    answer, _ = say(client, messages, "Which number?")  # no error reaches the client
    gone, fresh = [r for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist")][-2:]
    assert gone["status"] == 404 and gone["body"]["streamAssistRequest"]["query"]["parts"][0]["text"] == "Which number?"
    query = fresh["body"]["streamAssistRequest"]["query"]["parts"][0]["text"]
    assert query.startswith("User: Remember the number 7.\n\nAssistant: ") and query.endswith("User: Which number?")
    assert fresh["body"]["streamAssistRequest"]["session"] != gone["body"]["streamAssistRequest"]["session"]
    assert answer == expected(query).text
    say(client, messages, "And now?")  # the fresh session is where it goes on
    assert asks(simulator)[-1][:2] == (fresh["body"]["streamAssistRequest"]["session"], "And now?")


def test_a_file_already_in_the_session_is_referenced_not_uploaded_again(proxy, simulator):
    client = openai_client(proxy)
    png = tiny_png()
    picture = {"type": "image_url", "image_url": {"url": data_url("image/png", png)}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Look at this."}, picture]}]
    answer = client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    messages += [{"role": "assistant", "content": answer},
                 {"role": "user", "content": [{"type": "text", "text": "Look again."}, picture]}]
    again = client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    (session, _, ids), (same, query, ids_again) = asks(simulator)
    assert (same, query) == (session, "Look again.")
    assert ids_again == ids and len(uploads(simulator)) == 1
    assert f"sha256 {hashlib.sha256(png).hexdigest()}" in again  # the upstream found the file by its id


def test_two_servers_on_one_store_serve_alternate_turns(simulator, tmp_path_factory):
    shared = str(tmp_path_factory.mktemp("shared"))
    servers = [Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, DATA_DIR=shared), workers=1)
               for _ in range(2)]
    try:
        clients = [openai_client(server) for server in servers]
        messages = []
        for n in range(6):
            say(clients[n % 2], messages, f"Alternate {n}")
        log = asks(simulator)
        assert len({session for session, _, _ in log}) == 1
        assert [query for _, query, _ in log] == [f"Alternate {n}" for n in range(6)]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def off_proxy(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, CONVERSATION_TTL="0"), workers=1)
    yield server
    server.stop()


def test_with_conversation_ttl_0_every_turn_goes_whole(off_proxy, simulator):
    client = openai_client(off_proxy)
    messages = []
    for n in range(3):
        say(client, messages, f"Whole {n}")
    log = asks(simulator)
    assert len({session for session, _, _ in log}) == 3
    assert log[2][1].startswith("User: Whole 0") and log[2][1].endswith("User: Whole 2")


def test_two_requests_continuing_one_conversation_at_once_never_share_its_session(proxy, simulator):
    """The first takes the conversation; the second, sent while the first is still answered,
    goes whole to a fresh session; both are answered."""
    import threading

    client = openai_client(proxy)
    messages = []
    say(client, messages, "Shared start")
    [session] = {s for s, _, _ in asks(simulator)}
    simulator.fault("gate", after=1, verb="widgetStreamAssist")  # the first continuation waits upstream
    answers = {}

    def send(name):
        answers[name] = say(client, [dict(m) for m in messages], f"Branch {name}")[0]

    first = threading.Thread(target=send, args=("one",))
    first.start()
    wait_for(lambda: len(simulator.requests_log()) and any(
        r["outcome"] == "streaming" for r in simulator.requests_log() if r["path"].endswith("widgetStreamAssist")),
        timeout=10, what="the first continuation held upstream")
    send("two")  # meanwhile
    simulator.control("POST", "release")
    first.join(20)
    log = asks(simulator)
    assert log[1][:2] == (session, "Branch one")
    assert log[2][0] != session and log[2][1].startswith("User: Shared start") and log[2][1].endswith("User: Branch two")
    assert set(answers) == {"one", "two"}
