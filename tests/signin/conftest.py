"""A throwaway dovecot and a simulator that mails its sign-in codes into dovecot's Maildir,
shared by every test of this folder."""
import pytest

from tests.servers import Simulator
from tests.signin.dovecot import dovecot  # noqa: F401 - a fixture


@pytest.fixture(scope="session")
def mail_simulator(dovecot):  # noqa: F811
    sim = Simulator("--maildir", dovecot.maildir, "--quiet")
    yield sim
    sim.stop()


@pytest.fixture
def signin_sim(mail_simulator):
    """The simulator as it started: no faults, no sign-ins, the demo account only."""
    mail_simulator.control("POST", "reset")
    return mail_simulator
