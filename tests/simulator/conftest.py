"""Fixtures for the simulator's own tests: an in-process app with no delays, a client
for the fake upstream (`up`) and one for the control API (`sim`)."""

import pytest
from tests.simulator.simkit import FAST, Control, Upstream

from simulator import create_app


@pytest.fixture
def app():
    # Plain bodies: the Flask test client does not decode; test_sim_footprint covers gzip/br.
    return create_app({**FAST, "compression": "identity"}, accounts=None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def up(client):
    return Upstream(client)


@pytest.fixture
def sim(client):
    return Control(client)
