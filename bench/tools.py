"""`python -m bench.tools [--requests 300] [--seed 1]`: the parser's tolerance, measured (issue 10,
"Done when"). Never run by the test suite. Needs the openai SDK (`.venv-test`).

Starts the simulator with its model in the seeded random drift mode (simulator/model/drift.py:
each answer draws a drift, or none, from the seed and the query; one drifted answer in 8 is
stubborn, so a <correction> does not help) and the gateway under gunicorn (gevent workers, as
users run it), both on 127.0.0.1. Then it sends `--requests` chats with the openai SDK, each
with its own words so each draws its own drift: tool calls (tool_choice required, named, auto,
some with parallel_tool_calls false, some asking for two tools at once) and structured output
(json_schema strict, json_object), half of them streamed. Each answer is classified:

* correct: the calls (name and parsed arguments) or the JSON value are exactly what the
  simulator's model meant for the query the gateway sent (simulator.model.intended_text of the
  session's first query: the answer without drift; with the `parallel` drift where parallel
  calls are allowed, the two calls the model wrote);
* of those, "after retry": the upstream session holds a corrected turn (the gateway sent a
  <correction> and used the answer to it);
* text: a plain text answer where that is allowed (tool_choice auto and the model ignored the
  tools: the `ignore` drift);
* clear error: the OpenAI error envelope (status, code), whole or as the stream's error event;
* wrong: valid JSON, but not what the model meant (for instance a call of a tool nobody
  offered), or no call where one was meant and the model made it;
* INVALID JSON: `arguments` or JSON output that does not parse reached the client (must be 0);
* other failure: anything else (a timeout, a broken stream, a 500).

The tables count them per drift (the drift of the session's first answer) and in total.
"""
from __future__ import annotations

import argparse
import collections
import json
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import requests

from bench.stack import Stack
from simulator.model import intended_text

MODEL = "gemini-2.5-flash"
CITIES = ("Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Quito", "Hanoi", "Dakar", "Perth", "Bern")
PEOPLE = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov")
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather forecast for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "hourly": {"type": "boolean"}},
        "required": ["city", "days", "unit", "hourly"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The local time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}
PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer"}, "languages": {"type": "array", "items": {"type": "string"}},
    "active": {"type": "boolean"}}, "required": ["name", "age", "languages", "active"], "additionalProperties": False}
OUTCOMES = ("correct", "after retry", "text", "clear error", "wrong", "INVALID JSON", "other failure")


def tag(n: int) -> str:
    """A lower-case word unique to request n: no digits (the model reads numbers as arguments)
    and no capital (nor a proper noun)."""
    letters = ""
    n += 26 * 26
    while n:
        n, r = divmod(n, 26)
        letters = "abcdefghijklmnopqrstuvwxyz"[r] + letters
    return "ref" + letters


def case(n: int) -> dict:
    """Request n: its body for the SDK and its unique word."""
    word, city, other = tag(n), CITIES[n % len(CITIES)], CITIES[(n * 3 + 1) % len(CITIES)]
    days = 1 + n % 7
    body: dict = {"model": MODEL, "stream": n % 2 == 1}
    shape = n % 10
    if shape < 7:
        ask = f"What is the weather in {city} for {days} days? ({word})"
        if shape == 5:
            ask = f"What is the weather in {city} for {days} days and the time in {other}? ({word})"
        body["tools"] = [WEATHER, TIME]
        body["tool_choice"] = ("required", {"type": "function", "function": {"name": "get_weather"}},
                               "auto", "required", "auto", "auto", "required")[shape]
        if shape == 6:
            body["parallel_tool_calls"] = False
            ask = f"What is the weather in {city} for {days} days and the time in {other}? ({word})"
    elif shape < 9:
        person = PEOPLE[n % len(PEOPLE)]
        ask = f"Describe {person}, aged {30 + n % 40}, as JSON. ({word})"
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "person", "strict": True, "schema": PERSON}}
    else:
        ask = f"Give the capital of {city}'s country as JSON. ({word})"
        body["response_format"] = {"type": "json_object"}
    body["messages"] = [{"role": "user", "content": ask}]
    return {"n": n, "word": word, "body": body}


def call(client: openai.OpenAI, body: dict) -> dict:
    """The answer as the client saw it: {"calls": [(name, arguments text)], "content", "error"}."""
    try:
        if not body["stream"]:
            message = client.chat.completions.create(**body).choices[0].message
            return {"content": message.content or "",
                    "calls": [(c.function.name, c.function.arguments) for c in message.tool_calls or []]}
        calls: dict[int, list] = {}
        content = []
        for chunk in client.chat.completions.create(**body):
            for choice in chunk.choices:
                content.append(choice.delta.content or "")
                for delta in choice.delta.tool_calls or []:
                    slot = calls.setdefault(delta.index, ["", ""])
                    slot[0] += (delta.function.name or "") if delta.function else ""
                    slot[1] += (delta.function.arguments or "") if delta.function else ""
        return {"content": "".join(content), "calls": [tuple(calls[i]) for i in sorted(calls)]}
    except openai.APIStatusError as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) and "error" in exc.body else exc.body
        clear = isinstance(error, dict) and error.get("message") and exc.status_code < 500 or (
            isinstance(error, dict) and error.get("code") and exc.status_code in (502, 503, 504))
        return {"error": f"{exc.status_code} {error.get('code') if isinstance(error, dict) else ''}",
                "clear": bool(clear)}
    except openai.APIError as exc:  # an error event in the stream
        body_ = getattr(exc, "body", None)
        clear = isinstance(body_, dict) and bool(body_.get("message"))
        return {"error": f"stream {getattr(exc, 'code', None) or ''}".strip(), "clear": clear}
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not crash
        return {"error": f"{type(exc).__name__}: {exc}"[:120], "clear": False}


def intended(query: str):
    """What the model meant: ("calls", [(name, arguments)]) or ("json", value) or ("text", None)."""
    text = intended_text(query)
    if text.startswith("<tool_calls>"):
        calls = json.loads(text[len("<tool_calls>"):-len("</tool_calls>")])
        return "calls", [(c["name"], c["arguments"]) for c in calls]
    try:
        return "json", json.loads(text)
    except ValueError:
        return "text", None


def parallel_calls(session: dict):
    """The calls of a `parallel` drift: the intended ones and an extra, as the model wrote them;
    what the client should get when parallel calls are allowed."""
    reply = session["turns"][0]["reply"]
    try:
        return [(c["name"], c["arguments"]) for c in json.loads(reply[len("<tool_calls>"):-len("</tool_calls>")])]
    except (ValueError, TypeError, KeyError):
        return None


def classify(answer: dict, session: dict | None, body: dict) -> str:
    if "error" in answer:
        return "clear error" if answer["clear"] else "other failure"
    if session is None:
        return "other failure"
    kind, meant = intended(session["turns"][0]["query"])
    retried = any((t.get("model") or {}).get("corrected") for t in session["turns"][1:])
    try:
        if answer["calls"]:
            got = [(name, json.loads(arguments)) for name, arguments in answer["calls"]]
        elif kind == "json":
            got = json.loads(answer["content"])
        elif kind == "calls" and not (body.get("tool_choice") == "auto" and drift_of(session) == "ignore"):
            return "wrong"  # a call was meant and may not be left out
        else:
            return "text"
    except ValueError:
        return "INVALID JSON"
    if got != meant and not (kind == "calls" and body.get("parallel_tool_calls") is not False
                              and drift_of(session) == "parallel" and got == parallel_calls(session)):
        return "wrong"
    return "after retry" if retried else "correct"


def drift_of(session: dict | None) -> str:
    return ((session or {}).get("turns", [{}])[0].get("model") or {}).get("drift") or "none"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=3, help="examples printed per outcome that is not correct")
    args = parser.parse_args(argv)
    stack = Stack(ttfb=0.0, chunk_delay=0.002, reply_words=5, workers=args.workers, nginx=False)
    try:
        stack.start()
        sim = f"http://127.0.0.1:{stack.sim_port}/__sim__"
        requests.patch(f"{sim}/settings", json={"model_drift": "random", "model_drift_seed": args.seed},
                       timeout=10).raise_for_status()
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{stack.proxy_port}/v1", api_key="bench",
                               max_retries=0, timeout=60)
        cases = [case(n) for n in range(args.requests)]
        began = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            answers = list(pool.map(lambda c: call(client, c["body"]), cases))
        took = time.monotonic() - began
        time.sleep(0.5)  # the simulator keeps a turn once its last byte is out
        sessions = requests.get(f"{sim}/sessions", timeout=30).json()["sessions"]
        report(cases, answers, sessions, args, took)
    finally:
        stack.stop()


def report(cases, answers, sessions, args, took: float) -> None:
    by_word = {}
    for s in sessions:
        if s["turns"]:
            for c in cases:  # the unique word of the request is in its first query
                if c["word"] in s["turns"][0]["query"] and c["word"] not in by_word:
                    by_word[c["word"]] = s
    tables = {"tool calls": collections.defaultdict(collections.Counter),
              "JSON output": collections.defaultdict(collections.Counter)}
    examples: dict[str, list] = collections.defaultdict(list)
    stubborn = 0
    for c, answer in zip(cases, answers):
        session = by_word.get(c["word"])
        drift = drift_of(session)
        stubborn += bool(session and (session["turns"][0].get("model") or {}).get("stubborn"))
        outcome = classify(answer, session, c["body"])
        table = tables["JSON output" if "response_format" in c["body"] else "tool calls"]
        for row in (table[drift], table["total"], tables.setdefault("all", collections.defaultdict(collections.Counter))["total"]):
            row[outcome] += 1
        if outcome not in ("correct", "after retry") and len(examples.get(outcome, ())) < args.show:
            examples[outcome].append((c["n"], drift, answer.get("error") or answer.get("calls") or answer.get("content", "")[:80]))
    print(f"{args.requests} chats (seed {args.seed}, {args.concurrency} at a time, {took:.1f} s), "
          f"{stubborn} with a stubborn drift")
    for title, table in tables.items():
        print(f"\n{title:16}" + "".join(f"{o:>14}" for o in ("answers", *OUTCOMES)))
        for drift in sorted(table, key=lambda d: (d == "total", d)):
            row = table[drift]
            print(f"{drift:16}{sum(row.values()):>14}" + "".join(f"{row[o]:>14}" for o in OUTCOMES))
    for outcome, shown in examples.items():
        print(f"\n{outcome}, e.g.:")
        for n, drift, what in shown:
            print(f"  #{n} ({drift}): {what}")


if __name__ == "__main__":
    main()
