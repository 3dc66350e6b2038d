"""A 404 on a session made a moment ago is the model, not a lost session (turn_upstream.open_once), whatever
words the upstream uses: the wording of a model refusal is undocumented (§13 Q18)."""
from types import SimpleNamespace

import pytest

from app import chat, turn_upstream
from app.upstream.credential import Credential
from app.upstream import errors
from app.upstream.models import Model

ACCOUNT = Credential("a", "c", "1", "cfg")


class FakeUpstream:
    """Every widgetStreamAssist answers 404 with a message that names nothing."""

    def __init__(self):
        self.sessions, self.asked = 0, []

    def create_session(self, account):
        self.sessions += 1
        return f"sessions/{self.sessions}"

    def stream_assist(self, account, session, text, model_id, file_ids=(), tool=None):
        self.asked.append((session, model_id))
        raise errors.SessionGone("Requested entity was not found.", status=404, reason="NOT_FOUND")


def services_with(upstream):
    spares = SimpleNamespace(take=lambda account: "sessions/spare", refill=lambda account: None)
    return SimpleNamespace(upstream=upstream, spares=spares)


def test_a_second_404_on_a_fresh_session_is_the_model():
    upstream = FakeUpstream()
    turn = chat.Turn(text="hi", model=Model("gemini-9", "gemini-9"))
    with pytest.raises(errors.ModelRejected) as caught:
        turn_upstream.open_once(services_with(upstream), turn, ACCOUNT, fresh=False)
    assert caught.value.model_id == "gemini-9" and not caught.value.blames_account
    assert upstream.asked == [("sessions/spare", "gemini-9"), ("sessions/1", "gemini-9")]


def test_with_no_model_id_a_lost_session_stays_a_lost_session():
    turn = chat.Turn(text="hi", model=Model("gemini-business", None))
    with pytest.raises(errors.SessionGone) as caught:
        turn_upstream.open_once(services_with(FakeUpstream()), turn, ACCOUNT, fresh=False)
    assert not isinstance(caught.value, errors.ModelRejected)
