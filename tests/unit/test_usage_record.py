"""The usage writer (app/usage/record.py): one record per UTC day, caller, model and account,
summed as requests end; what is usage and what is an error; a store that fails costs nothing."""
import logging

import pytest

from app.exchange import Exchange
from app.store.base import StoreUnavailable
from app.store.sqlite import SqliteStore
from app.usage.days import DAY
from app.usage.record import Recorder, add, failed

MIDNIGHT = 1_800_000_000 - 1_800_000_000 % DAY  # a UTC midnight


def served(status=200, outcome=None, model="gemini-2.5-flash", metered=True, **fields) -> Exchange:
    current = Exchange("req_test")
    current.status, current.outcome, current.model, current.metered = status, outcome, model, metered
    current.account, current.caller = "acct@example.com", "0123456789abcdef"
    for name, value in fields.items():
        setattr(current, name, value)
    return current


@pytest.fixture
def store(tmp_path, clock):
    return SqliteStore(str(tmp_path / "state.db"), clock=clock)


def test_requests_of_one_day_caller_model_and_account_add_up_in_one_record(store, clock):
    clock.now = MIDNIGHT + DAY - 1  # 23:59:59 UTC
    add(store, served(input_tokens=10, output_tokens=30, images=1), clock.now, 400)
    add(store, served(status=502, input_tokens=5), clock.now, 400)
    add(store, served(account=None, videos=1), clock.now, 400)
    day = "2027-01-15"
    assert store.list("usage") == {
        f"{day}|0123456789abcdef|gemini-2.5-flash|-": {
            "day": day, "key": "0123456789abcdef", "model": "gemini-2.5-flash", "account": "-", "requests": 1,
            "errors": 0, "input_tokens": 0, "output_tokens": 0, "images": 0, "videos": 1},
        f"{day}|0123456789abcdef|gemini-2.5-flash|acct@example.com": {
            "day": day, "key": "0123456789abcdef", "model": "gemini-2.5-flash", "account": "acct@example.com",
            "requests": 2, "errors": 1, "input_tokens": 15, "output_tokens": 30, "images": 1, "videos": 0}}
    clock.now += 1  # the next UTC day: a record of its own
    add(store, served(), clock.now, 400)
    assert len(store.list("usage")) == 3
    # kept USAGE_RETENTION_DAYS after its day ends
    clock.now = MIDNIGHT + DAY + 400 * DAY - 1
    assert len(store.list("usage")) == 3
    clock.now += 1
    assert [r["day"] for r in store.list("usage").values()] == ["2027-01-16"]


def test_only_a_metered_request_with_its_model_known_is_usage(store, clock):
    assert add(store, served(metered=False), clock.now, 400) is None  # a model list, a session made
    assert add(store, served(model=None, status=400), clock.now, 400) is None  # refused before its model
    assert store.list("usage") == {}


@pytest.mark.parametrize("status, outcome, error", [
    (200, None, False), (200, "ok", False), (200, "client_gone", False), (499, "client_closed_request", False),
    (200, "upstream_error", True), (400, "invalid_value", True), (503, None, True), (429, "rate_limit_exceeded", True),
])
def test_what_counts_as_an_error(status, outcome, error):
    assert failed(served(status=status, outcome=outcome)) is error


class Failing:
    def update(self, *args, **kwargs):
        raise StoreUnavailable("locked")


def test_a_store_that_fails_is_logged_and_the_request_goes_on(caplog):
    recorder = Recorder(Failing(), 400, spend=lambda *a: pytest.fail("nothing to spend after a failed write"))
    with caplog.at_level(logging.ERROR, logger="gbp.usage"):
        recorder.finish(served(budget_key="0123456789abcdef", input_tokens=3))  # no exception
    assert "could not record the request's usage: locked" in caplog.text


def test_a_budgeted_keys_tokens_are_spent_with_the_record(store, clock):
    spent = []
    recorder = Recorder(store, 400, spend=lambda key, tokens, now: spent.append((key, tokens, now)), clock=clock)
    recorder.finish(served(budget_key="0123456789abcdef", input_tokens=3, output_tokens=4))
    recorder.finish(served(input_tokens=3, output_tokens=4))  # no budget: nothing to count
    recorder.finish(served(budget_key="0123456789abcdef"))     # no tokens: nothing to count
    assert spent == [("0123456789abcdef", 7, clock.now)]
    assert sum(r["requests"] for r in store.list("usage").values()) == 3
