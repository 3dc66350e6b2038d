"""reply_for: the deterministic answer other tests compute their expectations with."""

from simulator.replies import FILLER, reply_for


def test_quotes_the_last_nonempty_line_verbatim():
    text = reply_for("first line\n  second  line \n\n   \n", [], 5).text
    assert text.splitlines()[0] == 'Turn 1 — you said: "  second  line "'


def test_turn_number_and_first_query():
    text = reply_for("third", ["one\ntwo", "second"], 5).text
    lines = text.split("\n")
    assert lines[0].startswith("Turn 3 ")
    assert 'Your first message in this session was: "one\ntwo"' in text
    assert "first turn" in reply_for("x", [], 5).text


def test_contains_the_awkward_characters():
    text = reply_for("q", [], 0).text
    for needle in ["—", "é", "你好", "🙂", '"', "\\", "\n"]:
        assert needle in text


def test_filler_words():
    text = reply_for("q", [], 25).text
    words = text.split("\n")[-1].rstrip(".").split(" ")
    assert len(words) == 25 and set(words) <= set(FILLER)
    assert reply_for("q", [], 25) == reply_for("q", [], 25)
    assert reply_for("q", [], 25).text != reply_for("r", [], 25).text
    assert reply_for("q", [], 0).text.count("\n") == 2


def test_many_words_and_empty_query():
    assert len(reply_for("", [], 500).text.split("\n")[-1].split(" ")) == 500
    assert reply_for("", [], 1).text.startswith('Turn 1 — you said: ""')


def test_two_thoughts():
    reply = reply_for("q", ["a"], 3)
    assert len(reply.thoughts) == 2 and all(reply.thoughts)
