"""Quotas per kind against a real gunicorn (2 workers) and the simulator, two accounts:
a media 429 cools only its kind, a text 429 every kind, an overload briefly, and the
proactive daily limit stops at N and starts again at the reset (upstream-protocol.md §9,
§10.4, §14; README "Quotas per kind").

The gateway runs tests/integration/clocked_wsgi.py: the pool reads the time from a file the
tests move, so "until the reset" can be reached without waiting for Pacific midnight."""
import math
import time

import pytest
import requests

from app.accounts.quota import ResetClock
from tests.integration.conftest import API_KEY
from tests.integration.helpers import fast_simulator
from tests.servers import Gunicorn

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
ACCOUNTS = [{"id": f"quota{n}@example.com", "secure_c_ses": f"quota-cookie-{n}", "csesidx": f"83000{n}",
             "config_id": UUID} for n in (1, 2)]
A, B = ACCOUNTS
ADMIN = "quota-admin-key"
IMAGE, VIDEO, TEXT = "nano-banana-2", "veo-3.1-lite-generate", "gemini-2.5-flash"
VIDEO_LIMIT = 2
OVERLOAD_COOLDOWN = 5
RESETS = ResetClock()  # the gateway's QUOTA_RESET_TZ / QUOTA_RESET_HOUR: the defaults


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = fast_simulator(tmp_path_factory.mktemp("quota-sim"), ACCOUNTS)
    yield simulator
    simulator.stop()


class Clock:
    """The gateway's time: real time plus an offset in a file."""

    def __init__(self, path):
        self.path = path
        self.offset = 0.0
        self.path.write_text("0")

    def now(self) -> float:
        return time.time() + self.offset

    def set(self, when: float) -> None:
        self.offset = when - time.time()
        self.path.write_text(repr(self.offset))


@pytest.fixture(scope="module")
def clock(tmp_path_factory):
    return Clock(tmp_path_factory.mktemp("quota-clock") / "offset")


@pytest.fixture(scope="module")
def gateway(sim, clock, tmp_path_factory):
    env = {**sim.proxy_env(), "ACCOUNTS_FILE": str(sim.accounts_file), "ADMIN_KEY": ADMIN, "API_KEYS": API_KEY,
           "DATA_DIR": str(tmp_path_factory.mktemp("quota-data")), "AUTO_LOGIN": "false", "LOG_LEVEL": "debug",
           "UPSTREAM_READ_TIMEOUT": "5", "OVERLOAD_COOLDOWN": str(OVERLOAD_COOLDOWN),
           "DAILY_LIMIT_VIDEO": str(VIDEO_LIMIT), "CLOCK_OFFSET_FILE": str(clock.path)}
    server = Gunicorn(env, app="tests.integration.clocked_wsgi:app")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean(sim, gateway, clock):
    """Each test on a fresh quota day (10:00 Pacific, a day later than the last test's), with
    no faults, no cooldowns and an empty request log."""
    day = RESETS.next_reset(clock.now() + 86400)
    clock.set(day + 10 * 3600)
    sim.control("POST", "reset")
    for account in ACCOUNTS:
        admin(gateway, "PATCH", f"/admin/accounts/{account['id']}", json={"clear_cooldown": True})
    yield


def admin(gateway, method, path, **kwargs):
    response = requests.request(method, f"{gateway.url}{path}", headers={"Authorization": f"Bearer {ADMIN}"},
                                timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def chat(gateway, model, text="hi"):
    return requests.post(f"{gateway.url}/v1/chat/completions", timeout=20,
                         headers={"Authorization": f"Bearer {API_KEY}", "Connection": "close"},
                         json={"model": model, "messages": [{"role": "user", "content": text}]})


def calls(sim, since=0, model=False):
    """(csesidx, status) of each widgetStreamAssist the simulator answered after entry `since`
    (with model: (csesidx, status, modelId), None for the media models, which send none).
    A 404 is left out: a ready-made session the simulator's reset forgot, asked again at once."""
    out = []
    for r in sim.requests_log(since):
        if r["path"].endswith("widgetStreamAssist") and r["status"] != 404:
            config = r["body"]["streamAssistRequest"].get("assistGenerationConfig") or {}
            out.append((r["csesidx"], r["status"], config.get("modelId")) if model else (r["csesidx"], r["status"]))
    return out


def mark(sim) -> int:
    """Where the simulator's request log is now: calls(sim, mark(sim)) is what follows."""
    log = sim.requests_log()
    return log[-1]["seq"] if log else 0


def cooldowns(gateway, account):
    return admin(gateway, "GET", f"/admin/accounts/{account['id']}")["cooldowns"]


def spend_on(sim, gateway, account, model, reason="QUOTA_EXCEEDED"):
    """A 429 with `reason` for the next call on `account`, and `model` requests until it hit
    (each still answered by the other account)."""
    sim.fault("http_429", csesidx=account["csesidx"], reason=reason, verb="widgetStreamAssist")
    for n in range(12):
        response = chat(gateway, model, f"until it hits {n}")
        assert response.status_code == 200, response.text
        if (account["csesidx"], 429) in calls(sim):
            return
    raise AssertionError("the account was never chosen")


def test_an_image_quota_spent_on_one_account_leaves_it_serving_text(sim, gateway, clock):
    spend_on(sim, gateway, A, IMAGE)
    reset = RESETS.next_reset(clock.now())
    shown = cooldowns(gateway, A)
    assert list(shown) == ["image"], shown
    assert shown["image"]["cause"] == "quota" and abs(shown["image"]["until"] - reset) < 1
    assert shown["image"]["text"] == f"image quota spent until {RESETS.label(reset)}"
    assert shown["image"]["text"].endswith(" 00:00 PST")
    assert admin(gateway, "GET", f"/admin/accounts/{A['id']}")["state"] == "active"

    start = mark(sim)
    for n in range(8):
        assert chat(gateway, TEXT, f"text {n}").status_code == 200
        assert chat(gateway, IMAGE, f"image {n}").status_code == 200
    served = calls(sim, start, model=True)
    assert all(status == 200 for _, status, _ in served), "nothing was sent to an account that would refuse it"
    assert A["csesidx"] in {csesidx for csesidx, _, model in served if model == TEXT}, "A still serves text"
    assert {csesidx for csesidx, _, model in served if model is None} == {B["csesidx"]}, "every image went to B"


def test_when_no_account_can_serve_images_the_answer_names_the_kind_and_when_one_is_back(sim, gateway, clock):
    spend_on(sim, gateway, A, IMAGE)
    sim.fault("http_429", reason="QUOTA_EXCEEDED", verb="widgetStreamAssist")  # B's last image
    last = chat(gateway, IMAGE, "B's last image")
    assert last.status_code == 429 and last.json()["error"]["code"] == "rate_limit_exceeded"

    refused = chat(gateway, IMAGE, "one more image")
    reset = RESETS.next_reset(clock.now())
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "account_unavailable" and error["type"] == "service_unavailable_error"
    assert "can serve image requests" in error["message"] and "2 cooling down for image" in error["message"]
    assert f"back at {RESETS.label(reset)} (image quota spent)" in error["message"]
    assert abs(int(refused.headers["Retry-After"]) - math.ceil(reset - clock.now())) <= 3
    assert refused.headers["Retry-After"] == str(int(refused.headers["Retry-After"]))

    assert chat(gateway, TEXT, "text still works").status_code == 200
    health = requests.get(f"{gateway.url}/health/ready", timeout=10)
    assert health.status_code == 200, "the gateway is ready: it still serves text"
    assert health.json()["accounts"]["usable_by_kind"] == {"text": 2, "image": 0, "video": 2}


def test_a_spent_text_quota_cools_every_kind_until_the_reset(sim, gateway, clock):
    spend_on(sim, gateway, A, TEXT)
    reset = RESETS.next_reset(clock.now())
    shown = cooldowns(gateway, A)
    assert sorted(shown) == ["image", "text", "video"]
    assert all(abs(entry["until"] - reset) < 1 for entry in shown.values())
    assert shown["text"]["text"] == f"text quota spent until {RESETS.label(reset)}"
    assert shown["image"]["text"] == f"image blocked: text quota spent until {RESETS.label(reset)}"
    assert admin(gateway, "GET", f"/admin/accounts/{A['id']}")["state"] == "cooling_down"

    start = mark(sim)
    for n in range(VIDEO_LIMIT):  # B alone serves all of them (within its video limit)
        for model in (TEXT, IMAGE, VIDEO):
            assert chat(gateway, model, f"{model} {n}").status_code == 200
    assert {csesidx for csesidx, _ in calls(sim, start)} == {B["csesidx"]}, "A serves no kind at all"

    clock.set(reset + 1)  # the next quota day: A is back for everything
    assert cooldowns(gateway, A) == {}
    start = mark(sim)
    for n in range(6):
        assert chat(gateway, TEXT, f"after the reset {n}").status_code == 200
    assert A["csesidx"] in {csesidx for csesidx, _ in calls(sim, start)}


def test_an_overload_cools_briefly_and_the_request_moves_to_the_other_account(sim, gateway, clock):
    sim.fault("http_429", reason="LLM_OVERLOADED", verb="widgetStreamAssist")
    response = chat(gateway, TEXT, "are you busy?")
    assert response.status_code == 200, "retried on the other account"
    [(first, refused), (second, served)] = calls(sim)
    assert (refused, served) == (429, 200) and first != second
    overloaded = A if first == A["csesidx"] else B
    shown = cooldowns(gateway, overloaded)
    assert shown["text"]["cause"] == "overloaded" and 0 < shown["text"]["seconds"] <= OVERLOAD_COOLDOWN

    clock.set(clock.now() + OVERLOAD_COOLDOWN + 1)  # not until the reset: seconds later it is back
    assert cooldowns(gateway, overloaded) == {}
    start = mark(sim)
    for n in range(6):
        assert chat(gateway, TEXT, f"later {n}").status_code == 200
    assert first in {csesidx for csesidx, _ in calls(sim, start)}


def test_the_daily_limit_stops_at_n_per_account_and_starts_again_at_the_reset(sim, gateway, clock):
    for n in range(2 * VIDEO_LIMIT):
        assert chat(gateway, VIDEO, f"video {n}").status_code == 200
    served = calls(sim)
    assert sorted(served) == sorted([(A["csesidx"], 200)] * VIDEO_LIMIT + [(B["csesidx"], 200)] * VIDEO_LIMIT)

    refused = chat(gateway, VIDEO, "one video too many")
    reset = RESETS.next_reset(clock.now())
    assert refused.status_code == 503
    message = refused.json()["error"]["message"]
    assert "can serve video requests" in message and "video daily limit reached" in message
    assert abs(int(refused.headers["Retry-After"]) - math.ceil(reset - clock.now())) <= 3
    assert len(calls(sim)) == 2 * VIDEO_LIMIT, "the limit stopped it before the upstream"
    assert cooldowns(gateway, A)["video"]["text"] == f"video daily limit reached until {RESETS.label(reset)}"
    assert chat(gateway, TEXT, "text has no limit").status_code == 200

    clock.set(reset + 1)
    start = mark(sim)
    for n in range(2 * VIDEO_LIMIT):
        assert chat(gateway, VIDEO, f"the next day {n}").status_code == 200
    assert chat(gateway, VIDEO, "again one too many").status_code == 503
    assert len(calls(sim, start)) == 2 * VIDEO_LIMIT
