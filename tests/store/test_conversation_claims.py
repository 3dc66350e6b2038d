"""Claiming a conversation (app/conversations.py) on every backend: of many processes that
try at once, exactly one continues it."""
from __future__ import annotations

import multiprocessing

from app.conversations import Conversations, Place
from tests.store.workers import claim_conversation, conversation_messages


def test_one_of_many_processes_claims_a_conversation(backend):
    Conversations(backend.store, 3600).keep("client", "model", conversation_messages(), Place("acc", "session-1"))
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=claim_conversation, args=(backend.spec, start, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    start.set()
    claims = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert sorted(claims, key=str) == [None] * 5 + ["session-1"]
