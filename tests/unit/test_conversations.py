"""The conversation matcher (app/conversations.py): the digest, the split into what was
answered and the new turn, claiming and recording in the store."""
from app.conversations import MAX_FILES, NAMESPACE, Conversations, Place, conversation_key, split
from app.inputs import FileSource
from app.dialogue import Message
from app.store.sqlite import SqliteStore


def m(role, text, name="", files=()):
    return Message(role, text, name, tuple(FileSource(url, "p") for url in files))


BASE = (m("system", "S"), m("user", "one"), m("assistant", "two"))


def key(messages, client="c", model="gemini-2.5-flash"):
    return conversation_key(client, model, messages)


def test_the_key_depends_on_every_message_the_caller_and_the_model():
    same = key(BASE)
    assert key(BASE) == same
    assert key((m("system", "S"), m("user", " one\n"), m("assistant", "two "))) == same  # trimmed as clients do
    changed = [
        key((m("system", "S2"), *BASE[1:])),                        # a changed system message
        key((BASE[0], m("user", "one!"), BASE[2])),                 # an edited turn
        key((BASE[0], BASE[2], BASE[1])),                           # reordered
        key(BASE[:2]),                                               # cut
        key((*BASE, m("user", "three"))),                           # longer
        key((BASE[0], m("developer", "one"), BASE[2])),             # another role
        key((BASE[0], m("user", "one", files=["data:image/png;base64,AAAA"]), BASE[2])),  # a file added
        key((BASE[0], m("user", "one", files=["data:image/png;base64,AAAB"]), BASE[2])),  # another file
        key(BASE, client="other"),
        key(BASE, model="gemini-2.5-pro"),
    ]
    assert len({same, *changed}) == len(changed) + 1


def test_a_message_boundary_cannot_be_moved():
    assert key((m("user", "a"), m("assistant", "b c"))) != key((m("user", "a b"), m("assistant", "c")))


def test_split_cuts_after_the_last_answer_and_takes_only_user_and_tool_turns():
    new = (m("user", "three"),)
    assert split((*BASE, *new)) == (BASE, new)
    tools = (m("tool", "result", "call_1"), m("user", "and?"))
    assert split((*BASE, *tools)) == (BASE, tools)
    assert split((m("user", "only"),)) is None                 # nothing answered yet
    assert split(BASE) is None                                  # no new turn
    assert split((*BASE, m("system", "new rules"), m("user", "x"))) is None  # a new system message


def index(tmp_path, ttl=60, clock=None):
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock) if clock else SqliteStore(str(tmp_path / "state.db"))
    return Conversations(store, ttl, clock=clock) if clock else Conversations(store, ttl), store


def test_a_recorded_conversation_is_taken_once(tmp_path):
    conversations, store = index(tmp_path)
    place = Place("acc", "sessions/1", (("sha", "fid"),))
    conversations.keep("c", "model", BASE, place)
    assert conversations.take("c", "other-model", BASE) is None
    assert conversations.take("x", "model", BASE) is None
    assert conversations.take("c", "model", BASE) == place
    assert conversations.take("c", "model", BASE) is None  # a second request at once: the whole transcript
    assert store.list(NAMESPACE) == {}


def test_entries_expire_and_keep_a_bounded_number_of_files(tmp_path):
    now = [1000.0]
    conversations, store = index(tmp_path, ttl=30, clock=lambda: now[0])
    files = tuple((f"sha{n}", f"id{n}") for n in range(MAX_FILES + 10))
    conversations.keep("c", "model", BASE, Place("acc", "s", files))
    [record] = store.list(NAMESPACE).values()
    assert record["used_at"] == 1000.0 and list(record["files"].items()) == list(files[-MAX_FILES:])
    assert "one" not in str(store.list(NAMESPACE))  # digests only, no message text
    now[0] += 31
    assert conversations.take("c", "model", BASE) is None


def test_ttl_0_turns_the_index_off(tmp_path):
    conversations, store = index(tmp_path, ttl=0)
    conversations.keep("c", "model", BASE, Place("acc", "s"))
    assert store.list(NAMESPACE) == {} and conversations.take("c", "model", BASE) is None


def caller(app, value):
    from app.auth import client_id
    with app.test_request_context("/v1/models", headers={"Authorization": f"Bearer {value}"} if value else {}):
        app.extensions["gbp.auth"].check()
        return client_id()


def test_the_caller_is_a_digest_of_its_key_or_its_token_subject(tmp_path):
    import time
    from app import create_app, hs256
    from app.config import Config
    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error",
                                      "API_KEYS": "sk-one,sk-two", "JWT_SECRET": "s3cret"}))
    sign = lambda claims: hs256.sign({"alg": "HS256", "typ": "JWT"}, claims, b"s3cret")  # noqa: E731
    one, two = caller(app, "sk-one"), caller(app, "sk-two")
    assert one == caller(app, "sk-one") != two and "sk-one" not in one
    now = int(time.time())
    ada, ada_renewed = caller(app, sign({"sub": "ada", "exp": now + 60})), caller(app, sign({"sub": "ada", "exp": now + 90}))
    assert ada == ada_renewed != caller(app, sign({"sub": "bob", "exp": now + 60}))  # a renewed token, same caller
    assert ada not in (one, two)
    open_app = create_app(Config.from_env({"DATA_DIR": str(tmp_path / "open"), "LOG_LEVEL": "error"}))
    assert caller(open_app, None) == "open"
