"""Cookie rotation (§3.2, §9, §13 Q12): an aged pair gets a 302 to refreshcookies at
getoxsrf; following it hands out a new pair; the old pair works out a grace period; a pair
nobody rotates dies at its expiry."""
from tests.simulator.simkit import FAST, Upstream

from simulator import create_app
from simulator.demo import DEMO_CSESIDX, DEMO_SECURE_C_SES


def rig(**settings):
    app = create_app({**FAST, **settings}, accounts=None)
    state = app.extensions["simulator"]
    clock = [1_000_000.0]
    state.clock = lambda: clock[0]
    state.accounts.get(DEMO_CSESIDX).issued_at = clock[0]
    return app.test_client(), state, clock


def set_cookies(response) -> dict:
    return {h.split("=", 1)[0]: h.split("=", 1)[1].split(";", 1)[0]
            for h in response.headers.getlist("Set-Cookie")}


def follow(client, response):
    return client.get(response.headers["Location"])


def test_an_aged_pair_is_sent_to_refreshcookies_which_hands_out_a_new_pair():
    client, state, clock = rig(cookie_rotate_after=3600, cookie_rotation_grace=60)
    up = Upstream(client)
    assert up.getoxsrf().status_code == 200
    clock[0] += 3600
    redirected = up.getoxsrf()
    assert redirected.status_code == 302 and "refreshcookies" in redirected.headers["Location"]

    rotated = follow(client, redirected)
    assert rotated.status_code == 302 and "/auth/getoxsrf?csesidx=" in rotated.headers["Location"]
    fresh = set_cookies(rotated)
    assert fresh["__Secure-C_SES"] != DEMO_SECURE_C_SES and fresh["__Host-C_OSES"]
    assert state.accounts.get(DEMO_CSESIDX).rotations == 1
    assert Upstream(client, cookie=fresh["__Secure-C_SES"]).getoxsrf().status_code == 200

    # The old pair works out its grace (a request already under way), then is refused.
    assert up.getoxsrf(cookie=DEMO_SECURE_C_SES).status_code == 200
    clock[0] += 61
    assert up.getoxsrf(cookie=DEMO_SECURE_C_SES).status_code == 401


def test_a_pair_nobody_rotates_dies_at_its_expiry_and_refreshcookies_cannot_save_it():
    client, state, clock = rig(cookie_rotate_after=3600)
    state.accounts.get(DEMO_CSESIDX).expires_at = clock[0] + 86400
    up = Upstream(client)
    clock[0] += 86400
    assert up.getoxsrf().status_code == 401
    refused = client.get("/auth/refreshcookies?continue=/auth/getoxsrf")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"] and not set_cookies(refused)


def test_rotation_slides_the_expiry_unless_it_is_fixed():
    for slides, expected in ((True, 1_000_000.0 + 7200 + 500), (False, 1_000_000.0 + 10000)):
        client, state, clock = rig(cookie_rotate_after=3600, cookie_lifetime=500, cookie_expiry_slides=slides)
        state.accounts.get(DEMO_CSESIDX).expires_at = clock[0] + 10000
        clock[0] += 7200
        follow(client, Upstream(client).getoxsrf())
        assert state.accounts.get(DEMO_CSESIDX).expires_at == expected


def test_the_refreshcookies_fault_redirects_at_once_and_can_point_anywhere():
    client, state, clock = rig()
    client.post("/__sim__/faults", json={"kind": "refreshcookies", "location": "http://elsewhere.test/x"})
    redirected = Upstream(client).getoxsrf()
    assert redirected.status_code == 302 and redirected.headers["Location"] == "http://elsewhere.test/x"
    assert Upstream(client).getoxsrf().status_code == 200  # count 1: the fault is used up


def test_age_control_makes_cookies_older():
    client, state, clock = rig(cookie_rotate_after=3600)
    aged = client.post(f"/__sim__/accounts/{DEMO_CSESIDX}/age", json={"seconds": 3600}).get_json()
    assert aged["issued_at"] == clock[0] - 3600
    assert Upstream(client).getoxsrf().status_code == 302
    assert client.post(f"/__sim__/accounts/{DEMO_CSESIDX}/age", json={"seconds": -1}).status_code == 400


def test_refreshcookies_never_redirects_to_another_host():
    client, state, clock = rig()
    client.set_cookie("__Secure-C_SES", DEMO_SECURE_C_SES)
    response = client.get("/auth/refreshcookies?continue=http://evil.test/steal")
    assert response.headers["Location"] == "/"
