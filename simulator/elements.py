"""The objects of the streamed widgetStreamAssist array (upstream-protocol.md §6).

A normal answer is: the first element (top-level uToken, empty sessionInfo, assistToken and
the first thought), the second thought, then the answer text as deltas in IN_PROGRESS
elements, the last delta in a SUCCEEDED element whose sessionInfo names session, queryId
and turnId. `StreamPlan` adds what a fault changes to that sequence.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .errors import GoogleError, resource_exhausted
from .replies import Reply

MALFORMED = '{"streamAssistResponse": {"answer": {"state": IN_PROGRESS, "replies": []}}}'
# Roughly how many characters of answer text one delta element carries.
DELTA_CHARS = 40


def thought(text: str) -> dict:
    return {"groundedContent": {"content": {"role": "model", "text": text, "thought": True}}}


def text_part(text: str) -> dict:
    return {"groundedContent": {"content": {"role": "model", "text": text}}}


def file_part(file: dict) -> dict:
    """A generated file (§6.4): {"fileId", "mimeType", "name"}, and no text."""
    return {"groundedContent": {"content": {"role": "model", "file": dict(file)}}}


def answer_element(state: str, replies: list[dict], session_info: dict | None = None) -> dict:
    answer = {"state": state}
    if replies:
        answer["replies"] = replies
    body = {"answer": answer}
    if session_info is not None:
        body["sessionInfo"] = session_info
    return {"streamAssistResponse": body}


def first_element(replies: list[dict]) -> dict:
    element = answer_element("IN_PROGRESS", replies, session_info={})
    element["streamAssistResponse"]["answer"]["adkAuthor"] = "root_agent"
    element["streamAssistResponse"]["assistToken"] = secrets.token_urlsafe(24)
    return {"uToken": secrets.token_urlsafe(32), **element}


def split_text(text: str) -> list[str]:
    """The answer as at least three non-empty deltas of about DELTA_CHARS characters."""
    count = min(len(text), max(3, -(-len(text) // DELTA_CHARS)))
    cuts = [round(i * len(text) / count) for i in range(count + 1)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]


@dataclass
class SessionInfo:
    session: str
    query_id: str
    turn_id: str

    def to_json(self) -> dict:
        return {"session": self.session, "queryId": self.query_id, "turnId": self.turn_id}


def normal_elements(reply: Reply, info: SessionInfo, with_text=True) -> list[dict]:
    thoughts = [thought(t) for t in reply.thoughts]
    deltas = split_text(reply.text) if with_text else []
    elements = [first_element(thoughts[:1])]
    elements += [answer_element("IN_PROGRESS", [t]) for t in thoughts[1:]]
    elements += [answer_element("IN_PROGRESS", [text_part(d)]) for d in deltas[:-1]]
    last = [text_part(deltas[-1])] if deltas else []
    elements.append(answer_element("SUCCEEDED", last, info.to_json()))
    return elements


def media_elements(files: list[dict], info: SessionInfo, text: str = "") -> list[dict]:
    """An image or video answer (§6.4): no thoughts, one file reply per file; no text, or
    `text` before the files (image answers often have none, so some do)."""
    deltas = split_text(text) if text else []
    return [first_element([]), *(answer_element("IN_PROGRESS", [text_part(d)]) for d in deltas),
            answer_element("IN_PROGRESS", [file_part(f) for f in files]),
            answer_element("SUCCEEDED", [], info.to_json())]


def empty_elements(info: SessionInfo) -> list[dict]:
    return [first_element([]), answer_element("SUCCEEDED", [], info.to_json())]


def skipped_elements(info: SessionInfo, reason: str) -> list[dict]:
    skipped = answer_element("SKIPPED", [], info.to_json())
    skipped["streamAssistResponse"]["answer"].update({
        "assistSkippedReasons": [reason],
        "customerPolicyEnforcementResult": {"policyResults": [{
            "modelArmorEnforcementResult": {
                "modelArmorViolation": "Prompt was blocked by the customer's Model Armor policy."
            }}]},
    })
    return [first_element([]), skipped]


@dataclass
class StreamPlan:
    """What to send: `elements` (dicts, or raw text for a malformed one), and what happens
    after the first `stop_after` of them when `stop` is set ("truncate", "hang", "gate")."""

    elements: list = field(default_factory=list)
    stop: str | None = None
    stop_after: int = 0
    close_array: bool = True
    hold_seconds: float = float("inf")  # how long a gate or hang waits at most
    hold_event: object = None  # set when POST /__sim__/release opens the gate or hang
    records_turn: bool = True  # the upstream finished the turn and keeps it
    keeps: tuple = ("thoughts", "text")  # what of the reply the kept turn holds
    pauses: dict = field(default_factory=dict)  # element index -> extra seconds of silence before it


def plan_for(reply: Reply, info: SessionInfo, fault, media: list[dict] | None = None,
             media_seconds: float = 0.0) -> StreamPlan:
    """The plan for a stream, given the fault that hit it (or None); `media`: the file
    replies of an image or video answer, which then replaces the text answer."""
    normal = media_elements(media, info, reply.text) if media else normal_elements(reply, info)
    if fault is None:
        # Generation takes a while (media_seconds): silence before the file element.
        return StreamPlan(normal, pauses={len(normal) - 2: media_seconds} if media and media_seconds else {})
    kind, after = fault.kind, fault.after
    if kind == "stream_429":
        error = resource_exhausted(fault.reason or "LLM_OVERLOADED").body()
        return StreamPlan(normal[:after] + [error], records_turn=False)
    if kind == "stream_403":
        # §6.6: any Google error may come as an element of a 200 answer; this one is the refusal
        # an HTTP 403 is (§9), seen only as HTTP so far [inference]
        return StreamPlan(normal[:after] + [GoogleError(403).body()], records_turn=False)
    if kind == "truncate":
        return StreamPlan(normal, "truncate", min(after, len(normal) - 1),
                          close_array=False, records_turn=False)
    if kind == "hang":
        return StreamPlan(normal, "hang", min(after, len(normal)), close_array=False,
                          hold_seconds=fault.seconds, hold_event=fault.released,
                          records_turn=False)
    if kind == "gate":
        # At the latest before the final element: the closing bracket travels with it.
        return StreamPlan(normal, "gate", min(after, len(normal) - 1),
                          hold_event=fault.released)
    if kind == "malformed":
        return StreamPlan(normal[:after] + [MALFORMED] + normal[after:])
    if kind == "skip":
        reason = fault.reason or "CUSTOMER_POLICY_VIOLATION"
        return StreamPlan(skipped_elements(info, reason), keeps=())
    if kind == "thoughts_only" and media:
        return StreamPlan(empty_elements(info), keeps=())
    if kind == "thoughts_only":
        return StreamPlan(normal_elements(reply, info, with_text=False), keeps=("thoughts",))
    if kind == "empty":
        return StreamPlan(empty_elements(info), keeps=())
    if kind == "token_only":
        return StreamPlan([{"uToken": secrets.token_urlsafe(32)}], records_turn=False)
    raise ValueError(f"not a stream fault: {kind}")
