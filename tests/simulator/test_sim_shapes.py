"""The answer shapes of simulator/shapes.py, as a client of the upstream sees them."""

import json

from simulator.replies import reply_for
from simulator.shapes import CODE_BLOCK, SOURCES, large_block, rich_text
from tests.simulator.simkit import texts


def elements_of(up, kind, query="x", **params):
    up_session = up.create_session()
    up.client.post("/__sim__/faults", json={"kind": kind, **params})
    return json.loads(up.stream(up_session, query).get_data())


def test_multi_reply_packs_thoughts_and_text_into_one_element(up):
    elements = elements_of(up, "multi_reply")
    reply = reply_for("x", [], 40)
    assert texts(elements, True) == reply.thoughts
    assert "".join(texts(elements, False)) == reply.text
    mixed = [[bool(r["groundedContent"]["content"].get("thought")) for r in
              e["streamAssistResponse"]["answer"]["replies"]] for e in elements]
    assert [True, True, False] in mixed and all(len(m) > 1 for m in mixed)


def test_skip_late_comes_after_some_text(up):
    elements = elements_of(up, "skip_late", after=4)
    assert texts(elements, False) and len(elements) == 5
    answer = elements[-1]["streamAssistResponse"]["answer"]
    assert answer["state"] == "SKIPPED" and answer["assistSkippedReasons"] == ["CUSTOMER_POLICY_VIOLATION"]


def test_stream_401_is_an_unauthenticated_element_in_a_200_body(up):
    up_session = up.create_session()
    up.client.post("/__sim__/faults", json={"kind": "stream_401", "after": 0})
    response = up.stream(up_session, "x")
    assert response.status_code == 200
    [element] = json.loads(response.get_data())
    assert element["error"]["code"] == 401 and element["error"]["status"] == "UNAUTHENTICATED"


def test_large_sends_the_block_as_one_element(up):
    elements = elements_of(up, "large", size=300_000)
    block = large_block("x", 300_000)
    assert 299_000 < len(block.encode()) <= 300_000
    assert "".join(texts(elements, False)) == reply_for("x", [], 40).text + "\n" + block
    assert "\n" + block in texts(elements, False)


def test_rich_answer_has_a_code_block_and_citations(up):
    elements = elements_of(up, "rich", query="q")
    text = "".join(texts(elements, False))
    assert text == rich_text("q") and CODE_BLOCK in text
    assert not any(CODE_BLOCK.split("\n")[0] in d for d in texts(elements, False))  # the fence is split
    replies = elements[-1]["streamAssistResponse"]["answer"]["replies"]
    meta = replies[0]["groundedContent"]["textGroundingMetadata"]
    segment = meta["segments"][0]
    cited = text.encode()[int(segment["startIndex"]):int(segment["endIndex"])].decode()
    assert cited == segment["text"]
    assert [r["documentMetadata"]["uri"] for r in meta["references"]] == [s["uri"] for s in SOURCES]
    assert "content" not in replies[1]["groundedContent"]
