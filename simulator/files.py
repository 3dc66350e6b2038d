"""Files in a session: widgetAddContextFile (§5.3), widgetListSessionFileMetadata (§5.4) and
the fileIds check of widgetStreamAssist (§5.2, §12).

A file belongs to the one session it was uploaded to (or generated in): a fileId is looked up
in that session only, so the fileId of another session (even the same account's) is refused
at streamAssist with 400 INVALID_ARGUMENT. The real reaction is not recorded (§13 Q18); this
is the simulator's choice, made strict so that a client that forgets to upload again after
switching session fails its tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from flask import jsonify

from .envelope import Call, owned_session
from .errors import GoogleError
from .sessions import Session, new_numeric_id, rfc3339

USER_UPLOADED = "USER_UPLOADED"
AI_GENERATED = "AI_GENERATED"
_FILTER = re.compile(r"^\s*file_origin_type\s*=\s*(\w+)\s*$")
_STANDARD_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
IMAGE_TOKENS = 258  # what one image costs a Gemini prompt; a plausible, fixed tokenCount


@dataclass
class SessionFile:
    file_id: str
    name: str  # the fileName of the upload, or a generated name
    mime_type: str
    data: bytes
    origin: str  # USER_UPLOADED or AI_GENERATED
    created_at: float
    width: int = 0  # images the simulator made know their size (metadata views)
    height: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def token_count(self) -> int:
        if self.mime_type.startswith("image/"):
            return IMAGE_TOKENS
        return max(1, len(self.data) // 4)

    def to_control_json(self) -> dict:
        return {"file_id": self.file_id, "name": self.name, "mime_type": self.mime_type,
                "origin": self.origin, "size": len(self.data), "sha256": self.sha256}


def new_file(name: str, mime_type: str, data: bytes, origin: str, now: float,
             **size) -> SessionFile:
    return SessionFile(new_numeric_id(), name, mime_type, data, origin, now, **size)


def decode_contents(value) -> bytes:
    """Standard base64 only (§5.3 [H]): URL-safe characters or bad padding are refused."""
    if not isinstance(value, str) or not value:
        raise GoogleError(400, "addContextFileRequest.fileContents is required.")
    if not _STANDARD_B64.match(value) or len(value) % 4:
        raise GoogleError(400, "Invalid value at 'add_context_file_request.file_contents' "
                               "(TYPE_BYTES), Base64 decoding failed.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise GoogleError(400, "Invalid value at 'add_context_file_request.file_contents' "
                               "(TYPE_BYTES), Base64 decoding failed.") from None


def add_context_file(call: Call):
    inner = call.request
    session = owned_session(call, inner.get("name"))
    if "fileUri" in inner:  # B's variant [L]; nothing shows the service takes it
        raise GoogleError(400, "addContextFileRequest.fileUri is not supported; "
                               "send fileName, mimeType and fileContents.")
    file_name, mime_type = inner.get("fileName"), inner.get("mimeType")
    if not isinstance(file_name, str) or not file_name:
        raise GoogleError(400, "addContextFileRequest.fileName is required.")
    if not isinstance(mime_type, str) or not mime_type:
        raise GoogleError(400, "addContextFileRequest.mimeType is required.")
    if mime_type not in call.state.settings.upload_mime_types:
        raise GoogleError(400, f"Unsupported file type: {mime_type}")  # §5.3, verbatim
    data = decode_contents(inner.get("fileContents"))
    file = new_file(file_name, mime_type, data, USER_UPLOADED, call.now)
    call.state.sessions.add_file(session, file)
    return jsonify({"addContextFileResponse": {
        "session": session.name, "fileId": file.file_id,
        "tokenCount": str(file.token_count)}})


def files_of_request(session: Session, body: dict) -> list[SessionFile]:
    """The files a streamAssistRequest's fileIds name, all of them from `session`."""
    file_ids = body.get("fileIds", [])
    if not isinstance(file_ids, list):
        raise GoogleError(400, "fileIds must be a list.")
    files = []
    for file_id in file_ids:
        file = session.files.get(file_id) if isinstance(file_id, str) else None
        if file is None:
            raise GoogleError(400, f"File {file_id!r} not found in session {session.name}.")
        files.append(file)
    return files


def project_session(settings, session: Session) -> str:
    return f"projects/{settings.project_number}/locations/global/{session.name}"


def metadata_json(settings, session: Session, file: SessionFile) -> dict:
    qualified = project_session(settings, session)
    item = {
        "fileId": file.file_id, "name": file.name, "mimeType": file.mime_type,
        "byteSize": str(len(file.data)), "tokenCount": str(file.token_count),
        "quotaPercentage": 0.0,
        # The form D calls "not in the right format" (§5.4, Q7): another host, v1, file_id.
        "downloadUri": (f"https://discoveryengine.googleapis.com/v1/{qualified}:downloadFile"
                        f"?file_id={file.file_id}"),
        "uploadTime": rfc3339(file.created_at), "fileOriginType": file.origin,
        "session": qualified,
    }
    if file.width:
        item["views"] = {"thumbnail_256x256": {
            "viewId": "thumbnail_256x256", "mimeType": file.mime_type,
            "uri": item["downloadUri"], "byteSize": str(len(file.data)),
            "imageCharacteristics": {"width": file.width, "height": file.height}}}
    return item


def list_file_metadata(call: Call):
    inner = call.request
    session = owned_session(call, inner.get("name"))
    wanted = None
    if inner.get("filter") not in (None, ""):  # no filter (D) or an empty one: every file
        match = _FILTER.match(inner["filter"]) if isinstance(inner["filter"], str) else None
        if match is None or match[1] not in (USER_UPLOADED, AI_GENERATED):
            raise GoogleError(400, f"Invalid filter: {inner['filter']!r}")
        wanted = match[1]
    items = [metadata_json(call.state.settings, session, f) for f in session.files.values()
             if wanted is None or f.origin == wanted]
    # Google's JSON leaves out an empty repeated field, so "no files" is an empty object.
    return jsonify({"listSessionFileMetadataResponse": {"fileMetadata": items} if items else {}})
