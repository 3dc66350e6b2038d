"""The stages an answer goes through, from upstream events to what a renderer maps.

    upstream events ─► typed ─► tools.stage.calling ─► output.limited (max tokens, stop)
        ─► [tools.structured.checked] ─► framed ─► renderer

`calling` (app/tools/stage.py) reads tool calls out of the text when the request offers tools;
`checked` (app/tools/structured.py) holds the text to the JSON a response_format asks for.

Limits work on the flat deltas, before part boundaries exist: text a stop sequence held back
is shown where it is released (perhaps after a thought), and then it is a part of its own.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Iterator

from .. import exchange, pump
from ..background import Job, Watch
from ..output import estimate_usage, limited
from ..tools import structured
from ..tools.spec import NO_TOOLS, Tooling
from ..tools.stage import calling
from ..tools.structured import OutputFormat
from ..upstream.events import FileReply, Skipped, Text, Thought
from .events import KEEPALIVE, REFUSAL, TEXT, THINKING, TOOL_CALL, Delta, FileOut, Finish, PartEnd, PartStart, Usage

THOUGHT_SEPARATOR = "\n\n"  # between two thought blocks in reasoning_content / thinking


Fetch = Callable[[FileReply], FileOut]  # downloads a generated file and stores it (chat.Answer)


def answer_events(upstream: Iterable, prompt: str, fetch: Fetch, max_tokens: int | None = None,
                  stop: tuple[str, ...] = (), held: int = 0, keepalive: float = 15.0,
                  files_follow: bool = False, tooling: Tooling = NO_TOOLS,
                  output_format: OutputFormat | None = None,
                  again: Callable[[str], Iterable] | None = None, watch: Watch | None = None) -> Iterator:
    """The answer's event stream (see events.py); KEEPALIVE every `keepalive` seconds a
    download takes. Upstream errors, a failed download's included, propagate from the
    iteration. `held`: tokens of the prompt already upstream. `files_follow` (a media model):
    the files are shown even when the limits end the text early (output.limited). `tooling`:
    the tools offered, whose calls are read out of the text; `output_format`: the JSON the text
    must be (app/tools/structured.py); `again(text)`: the upstream events of a further query into
    the same session (the corrective retry of either). `watch` runs while a download is waited
    for (typed)."""
    retry = None if again is None else (lambda text: typed(again(text), fetch, keepalive, watch))

    def shown(events: Iterable) -> Iterator:  # one upstream answer: its calls read, the limits applied
        return limited(calling(events, tooling, retry, keepalive), max_tokens, stop, files_follow)

    events = shown(typed(upstream, fetch, keepalive, watch))
    if output_format is not None:
        events = structured.checked(events, output_format, retry and (lambda text: shown(retry(text))), keepalive)
    return framed(events, prompt, held)


def typed(upstream: Iterable, fetch: Fetch, keepalive: float = 15.0, watch: Watch | None = None) -> Iterator:
    """Upstream events as deltas, FileOut, KEEPALIVE and one Finish (no parts, no usage yet).

    A file reply is only an id in the account's session: `fetch` turns it into bytes a client
    can reach, here where the account and session are still known. It runs once the upstream
    stream has ended: the upstream keeps a generated file in the session only then (§6.4; the
    reference client also lists and downloads after the end), and a file named twice is
    fetched once. A download can be long (a video, a slow link): it runs in a Job while
    KEEPALIVE goes out every `keepalive` seconds, as while the upstream is quiet; a reader who
    stops reading (a stream's client left) or a `watch` that raises (a whole answer's client
    hung up) cancels it, so no file is stored for nobody. Stops reading at a refusal: nothing
    after it is shown."""
    thought_before = False
    files: dict[str, FileReply] = {}
    for event in upstream:
        if event is pump.KEEPALIVE:
            yield KEEPALIVE
        elif isinstance(event, Thought):
            # Unlike answer text, each thought part is a whole block ("**Title**\n\nparagraph");
            # run together they would read "...fine.**Drafting the answer**".
            yield Delta(THINKING, (THOUGHT_SEPARATOR if thought_before else "") + event.text)
            thought_before = True
        elif isinstance(event, Text):
            yield Delta(TEXT, event.text)
        elif isinstance(event, FileReply):
            files.setdefault(event.file_id, event)
        elif isinstance(event, Skipped):
            yield Delta(REFUSAL, event.explanation())
            yield Finish("content_filter")
            return
    for file in files.values():
        out = yield from Job(lambda file=file: fetch(file), name="fetch-file").ticking(keepalive, KEEPALIVE, watch)
        yield out
    yield Finish("stop")


def framed(events: Iterable, prompt: str, held: int = 0) -> Iterator:
    """Part boundaries around each run of deltas of one kind (parts numbered from 0), and the
    usage on Finish. A part an earlier stage framed itself (a tool call: PartStart with its
    CallHead … PartEnd) keeps its bounds and gets its number here. The request's Exchange is
    told the usage and the files as they pass, so its usage record (app/usage/) counts the very
    numbers the response shows.

    An answer that ends before its Finish (its client left, an error mid-way, a cut upstream)
    is told to the Exchange as it closes: the prompt and what was shown so far, estimated as a
    Finish would have. The upstream took the prompt and generated that output whatever became
    of it; counting nothing would let a client spend its key's daily tokens unseen by hanging up
    before the end."""
    open_kind, part = None, -1
    shown: dict[str, list[str]] = {TEXT: [], THINKING: [], TOOL_CALL: []}

    def spent() -> Usage:  # noted once: at the Finish, or as the answer closes without one
        nonlocal noted
        noted = True
        usage = estimate_usage(prompt, "".join(shown[TEXT] + shown[TOOL_CALL]), "".join(shown[THINKING]), held)
        exchange.note_usage(usage.prompt_tokens, usage.text_tokens + usage.reasoning_tokens)
        return usage

    noted = False
    try:
        for event in events:
            if isinstance(event, PartStart):
                if open_kind is not None:
                    yield PartEnd(open_kind, part)
                open_kind, part = event.kind, part + 1
                shown[TOOL_CALL].append(event.call.name if event.call else "")  # the model wrote it: output tokens
                yield PartStart(event.kind, part, event.call)
                continue
            if isinstance(event, PartEnd):
                yield PartEnd(event.kind, part)
                open_kind = None
                continue
            if isinstance(event, Delta):
                if event.kind != open_kind:
                    if open_kind is not None:
                        yield PartEnd(open_kind, part)
                    open_kind, part = event.kind, part + 1
                    yield PartStart(open_kind, part)
                shown.get(event.kind, []).append(event.text)
                yield Delta(event.kind, event.text, part)
                continue
            if open_kind is not None and event is not KEEPALIVE:
                yield PartEnd(open_kind, part)
                open_kind = None
            if isinstance(event, Finish):
                yield replace(event, usage=spent())
                return
            if isinstance(event, FileOut):
                exchange.note_file(event.mime_type)
            yield event
    finally:
        if not noted:
            spent()
