"""Files in an upstream session, the protocol side: what widgetAddContextFile is sent (§5.3),
what widgetListSessionFileMetadata answers (§5.4), and downloadFile's URLs and bodies (§5.5).

Pure functions and values only; GeminiBusiness (client.py) makes the calls with them, so the
account's bearer JWT is sent by one place that decides where it may go.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from . import errors

USER_UPLOADED = "USER_UPLOADED"
AI_GENERATED = "AI_GENERATED"
ORIGINS = (USER_UPLOADED, AI_GENERATED)
DOWNLOAD_SUFFIX = ":downloadFile"
# C and D sniff a text body: base64 of a PNG starts "iVBORw0KGgo", of a JPEG "/9j/" (§5.5).
_BASE64_SIGNATURES = {b"iVBORw0KGgo": "image/png", b"/9j/": "image/jpeg"}
_UNSUPPORTED = re.compile(r"Unsupported file type:\s*(\S+)")


@dataclass(frozen=True)
class SessionFile:
    """One item of widgetListSessionFileMetadata (the fields the gateway uses)."""
    file_id: str
    name: str
    mime_type: str
    origin: str  # fileOriginType: AI_GENERATED / USER_UPLOADED ("" when absent)
    session: str  # the project-qualified session name (§5.4), what download form 2 needs
    byte_size: int | None = None


def upload_request(session: str, data: bytes, mime_type: str, file_name: str) -> dict:
    return {"name": session, "fileName": file_name, "mimeType": mime_type,
            # standard base64, not URL-safe (§5.3 [H])
            "fileContents": base64.b64encode(data).decode("ascii")}


def upload_refusal(exc: errors.UpstreamError, mime_type: str) -> errors.UpstreamError:
    """An upstream 400 `Unsupported file type: <mime>` as UnsupportedFileType, else `exc`."""
    match = _UNSUPPORTED.search(exc.message)
    if isinstance(exc, errors.UpstreamRejected) and match:
        return errors.UnsupportedFileType(match.group(1) or mime_type, exc)
    return exc


def list_request(session: str, origin: str | None) -> dict:
    """No filter key lists every file (D, §5.4); else one file_origin_type."""
    if origin is None:
        return {"name": session}
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS} or None")
    return {"name": session, "filter": f"file_origin_type = {origin}"}


def parse_list(body: dict) -> list[SessionFile]:
    """Items of the answer; Google's JSON leaves an empty list out, so {} is no files."""
    answer = body.get("listSessionFileMetadataResponse")
    items = answer.get("fileMetadata") if isinstance(answer, dict) else None
    files = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("fileId"):
            continue
        size = item.get("byteSize")
        files.append(SessionFile(
            file_id=str(item["fileId"]), name=str(item.get("name") or ""),
            mime_type=str(item.get("mimeType") or "application/octet-stream"),
            origin=str(item.get("fileOriginType") or ""), session=str(item.get("session") or ""),
            byte_size=int(size) if isinstance(size, (str, int)) and str(size).isdigit() else None))
    return files


def download_url(api_base: str, session: str, file_id: str, form: int) -> str:
    """Form 1: {API_BASE_URL}/<session>:downloadFile; form 2: <API origin>/download/v1alpha/
    <project-qualified session>:downloadFile (§5.5). Both with fileId and alt=media."""
    query = f"?fileId={quote(file_id, safe='')}&alt=media"
    path = quote(session, safe="/") + DOWNLOAD_SUFFIX
    if form == 1:
        return f"{api_base.rstrip('/')}/{path}{query}"
    if form != 2:
        raise ValueError("form must be 1 or 2")
    if not session.startswith("projects/"):
        raise ValueError("download form 2 needs the project-qualified session (from the metadata)")
    return f"{origin_of(api_base)}/download/v1alpha/{path}{query}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def is_base64_body(headers, head: bytes) -> bool:
    """X4 reads `x-goog-safety-encoding: base64`; C and D sniff the text (§5.5)."""
    if headers.get("x-goog-safety-encoding", "").strip().lower() == "base64":
        return True
    return headers.get("content-type", "").lower().startswith("text/plain") and \
        head.lstrip().startswith(tuple(_BASE64_SIGNATURES))


def decoded(body: bytes, headers) -> tuple[bytes, str]:
    """(bytes, MIME type) of a downloadFile answer, raw or base64."""
    mime_type = (headers.get("content-type") or "application/octet-stream").split(";")[0].strip()
    if not is_base64_body(headers, body[:16]):
        return body, mime_type
    try:
        data = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.UpstreamFailed("downloadFile sent a base64 body that does not decode") from exc
    real = headers.get("x-goog-safety-content-type", "").split(";")[0].strip()
    sniffed = next((t for s, t in _BASE64_SIGNATURES.items() if body.lstrip().startswith(s)), None)
    return data, real or sniffed or mime_type
