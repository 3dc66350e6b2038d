"""Messages to one upstream query; output limits; usage estimates."""
from app.output import OutputLimiter, estimate_tokens
from app.dialogue import Message
from app.dialogue import render_query
from app.openai.translate import usage


def m(role, text, name=""):
    return Message(role, text, name)


def test_a_lone_user_message_goes_as_it_is():
    assert render_query((m("user", "你好"),)) == "你好"


def test_system_text_becomes_instructions_before_the_question():
    query = render_query((m("system", "Be brief."), m("developer", "Answer in French."), m("user", "Hi")))
    assert query == "<system>\nBe brief.\n\nAnswer in French.\n</system>\n\nHi"


def test_a_conversation_is_rendered_as_a_labelled_transcript_ending_with_the_last_message():
    query = render_query((m("system", "S"), m("user", "one"), m("assistant", "two"),
                          Message("tool", "{\"t\": 1}", "get_t", call_id="call_1"), m("user", "three\nlines")))
    assert query == ("<system>\nS\n</system>\n\nUser: one\n\nAssistant: two\n\n"
                     'Tool result: <tool_result call_id="call_1" name="get_t">\n{"t": 1}\n</tool_result>\n\n'
                     "User: three\nlines")
    assert query.splitlines()[-1] == "lines"


def test_limiter_passes_text_through_without_limits():
    limiter = OutputLimiter()
    assert limiter.feed("abc") == ("abc", None)
    assert limiter.flush() == ("", None)


def test_limiter_cuts_at_the_token_budget():
    limiter = OutputLimiter(max_tokens=2)  # about 8 ASCII characters
    assert limiter.feed("abcdef") == ("abcdef", None)
    assert limiter.feed("ghijkl") == ("gh", "length")


def test_limiter_finds_a_stop_sequence_split_across_deltas():
    limiter = OutputLimiter(stop=("STOP",))
    shown = []
    for delta in ["Hello ST", "O", "P and more"]:
        text, reason = limiter.feed(delta)
        shown.append(text)
        if reason:
            break
    assert "".join(shown) == "Hello " and reason == "stop"


def test_limiter_flushes_held_back_text_when_no_stop_came():
    limiter = OutputLimiter(stop=("STOP",))
    assert limiter.feed("ab") == ("", None)
    assert limiter.feed("cdefg") == ("abcd", None)
    assert limiter.flush() == ("efg", None)


def test_token_estimates():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("你好") == 2
    assert estimate_tokens("café 你好 🙂 \ud800 and ASCII") == (len("café   and ASCII") + 3) // 4 + 5  # mixed, a lone surrogate
    counted = usage("abcd", "abcdefgh", "abcd")
    assert counted["total_tokens"] == counted["prompt_tokens"] + counted["completion_tokens"] == 1 + 3
    assert counted["completion_tokens_details"]["reasoning_tokens"] == 1
