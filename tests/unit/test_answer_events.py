"""The answer's surface-neutral event stream (app/answer/): part boundaries, limits as a stage,
the whole reply from the same events."""
from app import pump
from app.answer.events import KEEPALIVE, REFUSAL, TEXT, THINKING, Delta, FileOut, PartEnd, PartStart
from app.answer.reply import reply
from app.answer.stages import answer_events
from app.upstream.events import FileReply, SessionInfo, Skipped, Text, Thought


def stream(*upstream, **limits):
    return list(answer_events(iter(upstream), "prompt", fetched, **limits))


def fetched(file: FileReply) -> FileOut:
    """What chat.Answer.fetch makes of a file reply, minus the download and the store."""
    return FileOut("https://gw/" + file.file_id, file.mime_type, file.name)


def test_each_run_of_one_kind_is_one_part_and_keepalives_do_not_split_it():
    events = stream(Thought("a"), pump.KEEPALIVE, Thought("b"), Text("x"), SessionInfo("s"), Text("y"))
    assert events[:-1] == [PartStart(THINKING, 0), Delta(THINKING, "a", 0), KEEPALIVE, Delta(THINKING, "\n\nb", 0),
                           PartEnd(THINKING, 0), PartStart(TEXT, 1), Delta(TEXT, "x", 1), Delta(TEXT, "y", 1),
                           PartEnd(TEXT, 1)]
    assert events[-1].reason == "stop"
    assert events[-1].usage.text_tokens == 1 and events[-1].usage.reasoning_tokens == 1


def test_files_are_fetched_once_each_after_the_upstream_stream_ends_as_events_of_their_own():
    """The upstream keeps a generated file in the session once its stream has ended (§6.4)."""
    one, two = FileReply("f1", "image/png"), FileReply("f2", "video/mp4")
    assert stream(Text("see"), one, Text("more"), one, two)[:-1] == [
        PartStart(TEXT, 0), Delta(TEXT, "see", 0), Delta(TEXT, "more", 0), PartEnd(TEXT, 0),
        FileOut("https://gw/f1", "image/png"), FileOut("https://gw/f2", "video/mp4")]


def test_text_a_stop_sequence_held_back_past_a_thought_is_shown_after_it_as_a_part_of_its_own():
    events = stream(Text("ab"), Thought("t"), Text("c"), stop=("zz",))
    assert [e for e in events if isinstance(e, Delta)] == [
        Delta(TEXT, "a", 0), Delta(THINKING, "t", 1), Delta(TEXT, "b", 2), Delta(TEXT, "c", 2)]


def test_a_refusal_is_a_part_after_the_text_a_stop_sequence_held_back_and_ends_the_answer():
    events = stream(Text("ab"), Skipped(("BLOCKED",)), Text("never"), stop=("zz",))
    assert events[:-1] == [PartStart(TEXT, 0), Delta(TEXT, "a", 0), Delta(TEXT, "b", 0), PartEnd(TEXT, 0),
                           PartStart(REFUSAL, 1), Delta(REFUSAL, "Gemini Business declined to answer (BLOCKED).", 1),
                           PartEnd(REFUSAL, 1)]
    assert events[-1].reason == "content_filter"


def test_limits_end_the_stream_with_their_reason_and_read_no_further():
    read = []

    def upstream():
        for chunk in ("one ", "two STOP three", "four"):
            read.append(chunk)
            yield Text(chunk)

    events = list(answer_events(upstream(), "p", fetched, stop=("STOP",)))
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "one two "
    assert events[-2:] == [PartEnd(TEXT), events[-1]] and events[-1].reason == "stop"
    assert read == ["one ", "two STOP three"]
    cut = stream(Text("abcdefgh"), Text("more"), max_tokens=1)
    assert cut[:-1] == [PartStart(TEXT), Delta(TEXT, "abcd"), PartEnd(TEXT)] and cut[-1].reason == "length"


def test_the_files_of_a_media_answer_are_still_shown_when_the_limits_end_its_text():
    """max_tokens and stop limit text; the generated file is what was asked for."""
    image = FileReply("f1", "image/png")
    for limits, reason in (({"max_tokens": 1}, "length"), ({"stop": ("STOP",)}, "stop")):
        events = stream(Text("abcd STOP efgh"), Thought("later"), Text("more"), image, files_follow=True, **limits)
        assert [e for e in events if isinstance(e, (Delta, FileOut))] == [
            Delta(TEXT, "abcd" if reason == "length" else "abcd ", 0), FileOut("https://gw/f1", "image/png")]
        assert events[-1].reason == reason
    # a text model stops reading at the end of its output, as before
    assert not [e for e in stream(Text("abcdefgh"), image, max_tokens=1) if isinstance(e, FileOut)]


class FakeAnswer:
    def __init__(self, *upstream):
        self.upstream, self.closed = upstream, None

    def events(self, interval):
        return answer_events(iter(self.upstream), "prompt", fetched)

    def close(self, error=None, completed=False):
        self.closed = (error, completed)


def test_the_whole_reply_is_built_from_the_same_events():
    answer = FakeAnswer(Thought("t1"), Thought("t2"), Text("an"), Text("swer"), Skipped(()))
    whole = reply(answer)
    assert (whole.thinking, whole.text, whole.finish_reason) == ("t1\n\nt2", "answer", "content_filter")
    assert whole.refusal == "Gemini Business declined to answer."
    assert answer.closed == (None, True)
