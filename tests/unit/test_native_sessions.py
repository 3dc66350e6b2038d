"""Native session records in the store, read by workers of different versions."""
from app.gemini.sessions import NAMESPACE, Sessions
from app.store.sqlite import SqliteStore


def test_a_session_written_by_a_newer_version_with_fields_this_one_does_not_know_still_loads(tmp_path):
    # During a rolling deploy, workers of two versions share one store: a record a newer worker
    # wrote with a field added later must not make this worker's /gemini/chat a 500.
    sessions = Sessions(SqliteStore(str(tmp_path / "s.db")), 600)
    made = sessions.create("collections/c/sessions/1", "a@example.com", "gemini-2.5-flash")
    record = sessions.store.get(NAMESPACE, made.id)
    sessions.store.put(NAMESPACE, made.id, {**record, "added_later": {"x": 1}}, expires_at=made.expires_at)
    loaded = sessions.get(made.id)
    assert loaded == made


def test_a_session_written_before_files_were_kept_loads_with_none(tmp_path):
    sessions = Sessions(SqliteStore(str(tmp_path / "s.db")), 600)
    made = sessions.create("collections/c/sessions/1", "a@example.com", "gemini-2.5-flash")
    record = {k: v for k, v in sessions.store.get(NAMESPACE, made.id).items() if k != "files"}
    sessions.store.put(NAMESPACE, made.id, record, expires_at=made.expires_at)
    assert sessions.get(made.id).files == {}
