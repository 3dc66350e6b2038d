"""The Flask app: wires the state, the fake hosts (API and sign-in pages) and the control API
together."""

from __future__ import annotations

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from . import compression, control, download, oxsrf, signin, widgets
from .accounts import accounts_from_payload
from .demo import DEMO_ACCOUNT
from .errors import GoogleError
from .settings import Settings
from .state import EXTENSION, SimState, current_state, note


def create_app(settings=None, accounts=None, sink=None) -> Flask:
    """The simulator as a WSGI app.

    settings: a Settings, a dict of overrides, or None for the defaults.
    accounts: import-format records (upstream-protocol.md §2.3); None = the demo account.
    sink: called with each finished request-log entry (the CLI prints or writes them).
    """
    if not isinstance(settings, Settings):
        settings = Settings().updated(settings or {})
    records = [DEMO_ACCOUNT] if accounts is None else accounts
    app = Flask(__name__)
    app.extensions[EXTENSION] = SimState(settings, accounts_from_payload(records), sink)
    app.register_blueprint(oxsrf.bp)
    app.register_blueprint(widgets.bp)
    app.register_blueprint(download.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(control.bp)
    app.before_request(_open_log_entry)
    app.after_request(_close_log_entry)
    app.after_request(_compress)
    app.register_error_handler(GoogleError, lambda exc: exc.response())
    app.register_error_handler(HTTPException, _http_exception)
    return app


def _open_log_entry():
    if request.path.startswith(control.bp.url_prefix):
        return  # the control API is not traffic the proxy sent
    g.sim_entry = current_state().log.begin(
        request.method, request.path, request.args.to_dict(),
        dict(request.headers), request.get_data(cache=True))


def _close_log_entry(response):
    entry = g.get("sim_entry")
    if entry is not None:
        entry["status"] = response.status_code
        if getattr(response, "sim_streaming", False):
            entry["outcome"] = "streaming"  # the stream finishes the entry when it ends
        else:
            current_state().log.finish(entry, "complete")
    return response


def _compress(response):
    if request.path.startswith(control.bp.url_prefix):
        return response  # the control API is for tests, not part of the fake service
    response = compression.compress(response, request.headers.get("accept-encoding", ""),
                                    current_state().settings.compression)
    if response.headers.get("content-encoding"):
        note(encoding=response.headers["content-encoding"])
    return response


def _http_exception(exc: HTTPException):
    # A wrong method on a real REST path gets a 404 from Google's front end.
    code = 404 if exc.code == 405 else exc.code
    return GoogleError(code).response()
