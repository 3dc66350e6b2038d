"""getoxsrf and the bearer check of widget calls (upstream-protocol.md §3, §12)."""

import base64
import time
from datetime import datetime

import pytest
from tests.simulator.simkit import OTHER, XSSI, sign_jwt, xssi_json

from simulator.demo import DEMO_CSESIDX, DEMO_HOST_C_OSES


def test_getoxsrf_success_shape(up):
    response = up.getoxsrf()
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith(XSSI)
    body = xssi_json(response)
    assert set(body) == {"xsrfToken", "keyId", "expirationTime"}
    assert "=" not in body["xsrfToken"]
    key = base64.urlsafe_b64decode(body["xsrfToken"] + "=" * (-len(body["xsrfToken"]) % 4))
    assert len(key) == 32
    assert body["keyId"].startswith("WAA.") and len(body["keyId"]) == 507
    expires = datetime.fromisoformat(body["expirationTime"].replace("Z", "+00:00"))
    assert 3500 < expires.timestamp() - time.time() <= 3600


def test_each_getoxsrf_issues_a_new_key(up):
    first, second = up.key(), up.key()
    assert first["xsrfToken"] != second["xsrfToken"] and first["keyId"] != second["keyId"]


@pytest.mark.parametrize("cookie,csesidx", [
    ("nobody-knows-this", DEMO_CSESIDX),  # unknown cookie
    (None, "999"),  # csesidx of another (non-existent) account
])
def test_getoxsrf_401_for_unknown_cookie(up, cookie, csesidx):
    response = up.getoxsrf(cookie=cookie, csesidx=csesidx)
    assert response.status_code == 401
    assert xssi_json(response) == {"message": "Session has expired.", "status": "EXPIRED_SIGN_IN"}


def test_getoxsrf_401_after_account_expired(up, sim):
    assert sim.post(f"accounts/{DEMO_CSESIDX}/expire").status_code == 200
    assert up.getoxsrf().status_code == 401


def test_getoxsrf_401_for_past_expires_at(up, sim):
    sim.post("accounts", json={**OTHER, "expires_at": "2020-01-01 00:00:00"})
    response = up.getoxsrf(cookie=OTHER["secure_c_ses"], csesidx=OTHER["csesidx"])
    assert response.status_code == 401


def test_require_oses(up, sim):
    sim.patch("settings", json={"require_oses": True})
    assert up.getoxsrf().status_code == 401
    assert up.getoxsrf(oses="wrong").status_code == 401
    assert up.getoxsrf(oses=DEMO_HOST_C_OSES).status_code == 200


def call_with(up, token):
    return up.call("widgetListSessions", {"pageSize": 10}, token=token)


def reason_of(response) -> str:
    error = response.get_json()["error"]
    assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED"
    assert error["message"].startswith("Request had invalid authentication credentials.")
    [info] = error["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["domain"] == "googleapis.com"
    return info["reason"]


def test_valid_token_accepted(up):
    assert call_with(up, up.token()).status_code == 200


def tampered_signature(up):
    token = up.token()
    head, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{head}.{payload}.{flipped}{signature[1:]}"


def other_key_signature(up):
    key, other = up.key(), up.key()
    return sign_jwt(other["xsrfToken"], key["keyId"], DEMO_CSESIDX)


@pytest.mark.parametrize("make,reason", [
    (tampered_signature, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (other_key_signature, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(aud="https://127.0.0.1:8765"), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(iss="http://127.0.0.1:8765"), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(sub="csesidx/1"), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(sub=DEMO_CSESIDX), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(exp=int(time.time()) - 1), "ACCESS_TOKEN_EXPIRED"),
    (lambda up: up.token(nbf=int(time.time()) + 60), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token(exp=None), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: sign_jwt(up.key()["xsrfToken"], "WAA.unknown", DEMO_CSESIDX),
     "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: sign_jwt(up.key()["xsrfToken"], up.key()["keyId"], DEMO_CSESIDX,
                         header={"alg": "none"}), "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: "not-a-jwt", "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    (lambda up: up.token().split(".")[0] + ".\u00e9.x", "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
], ids=["signature", "other-key", "aud", "iss", "sub", "sub-bare", "exp-past",
        "nbf-future", "no-exp", "unknown-kid", "alg-none", "garbage", "non-ascii"])
def test_bad_tokens_rejected(up, make, reason):
    response = call_with(up, make(up))
    assert response.status_code == 401
    assert reason_of(response) == reason


def test_missing_bearer(up, client):
    response = client.post("/v1alpha/locations/global/widgetListSessions",
                           json={"configId": up.config_id, "listSessionsRequest": {}})
    assert response.status_code == 401
    assert reason_of(response) == "CREDENTIALS_MISSING"


def test_keys_expire(up, sim):
    token = up.token()
    assert call_with(up, token).status_code == 200
    assert sim.post("keys/expire").get_json()["expired"] >= 1
    response = call_with(up, token)
    assert response.status_code == 401 and reason_of(response) == "ACCESS_TOKEN_EXPIRED"
    assert call_with(up, up.token()).status_code == 200  # a fresh key works


def test_key_lifetime(up, sim):
    sim.patch("settings", json={"key_lifetime": 0})
    response = call_with(up, up.token())
    assert response.status_code == 401 and reason_of(response) == "ACCESS_TOKEN_EXPIRED"


def test_token_of_one_account_cannot_claim_another(up, sim):
    sim.post("accounts", json=OTHER)
    key = up.key()  # the demo account's key
    token = sign_jwt(key["xsrfToken"], key["keyId"], OTHER["csesidx"])
    assert call_with(up, token).status_code == 401
