"""GET <session>:downloadFile?fileId=<id>&alt=media in both URL forms (§5.5, §13 Q7):

1. {API_BASE_URL}/<session>:downloadFile, the session short or project-qualified;
2. <API origin>/download/v1alpha/<project-qualified session>:downloadFile.

Authenticated like a widget call: the §4 bearer and headers (no JSON content-type: a GET has
no body); a banned account, a session of another account or a fileId not in that session
are refused as the widget verbs refuse them. Switches: `download_redirect` (form 1 answers
302 to form 2, the inference of §5.5) and `download_encoding` (auto: raw bytes, base64 text
when the client sends `x-goog-encode-response-if-executable: base64`; raw; base64). A base64
body comes with `x-goog-safety-encoding: base64` and `x-goog-safety-content-type: <type>`.
The `slow_download` fault holds a download that would succeed for `seconds` or until
released, then answers it as usual (a large file over a slow link: the client just waits).
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, redirect, request

from .envelope import Call, authenticate, owned_session
from .errors import GoogleError
from .faults import fault_error
from .files import project_session
from .state import current_state, note

bp = Blueprint("download", __name__)
SUFFIX = ":downloadFile"
VERB = "downloadFile"


@bp.get("/v1alpha/<path:target>")
def download_form_1(target: str):
    return _download(target, form=1)


@bp.get("/download/v1alpha/<path:target>")
def download_form_2(target: str):
    return _download(target, form=2)


def _download(target: str, form: int):
    if not target.endswith(SUFFIX):
        raise GoogleError(404)  # no other GET exists under these paths
    note(verb=VERB, form=form)
    state = current_state()
    account = authenticate(state, VERB)
    if account.banned:
        note(refused="banned")
        raise GoogleError(403)
    fault = state.faults.take(VERB, account.csesidx, kinds=("jwt_expired", "http_429", "http_error"))
    if fault is not None:
        note(fault=fault.kind)
        raise fault_error(fault)
    name = target[: -len(SUFFIX)]
    if form == 2 and not name.startswith("projects/"):
        raise GoogleError(404, f"Session {name} not found.")  # form 2 names the project
    call = Call(state, account, {}, state.now())
    session = owned_session(call, name)
    file_id = request.args.get("fileId")
    if not file_id:
        raise GoogleError(400, "fileId is required.")
    if request.args.get("alt") != "media":
        raise GoogleError(400, "Only alt=media is supported for downloadFile.")
    file = session.files.get(file_id)
    if file is None:
        raise GoogleError(404, f"File {file_id} not found in session {session.name}.")
    slow = state.faults.take(VERB, account.csesidx, kinds=("slow_download",))
    if slow is not None:
        note(fault=slow.kind)
        with state.faults.holding():
            slow.released.wait(slow.seconds)
    if form == 1 and state.settings.download_redirect:
        qualified = project_session(state.settings, session)
        return redirect(f"{request.host_url}download/v1alpha/{qualified}{SUFFIX}"
                        f"?fileId={file_id}&alt=media", code=302)
    encoding = state.settings.download_encoding
    asked = request.headers.get("x-goog-encode-response-if-executable", "").lower() == "base64"
    if encoding == "base64" or (encoding == "auto" and asked):
        note(body="base64")
        return Response(base64.b64encode(file.data), content_type="text/plain; charset=UTF-8",
                        headers={"x-goog-safety-encoding": "base64",
                                 "x-goog-safety-content-type": file.mime_type})
    note(body="raw")
    return Response(file.data, content_type=file.mime_type)
