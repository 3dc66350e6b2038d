"""GET /v1/files/<id>/content: the bytes of a generated image or video, by signed URL only.

No API key is asked: the URL's signature is the permission (app/media_urls.py), so a chat UI
can show a Markdown image link. Its own blueprint, apart from /v1's require_client, and there
with OPENAI_COMPATIBLE=false too, since the native API hands out the same links.

Bad or missing signature: 403. Signed here but past its time: 410. A malformed id, or one the
store no longer holds (expired, evicted): 404. All in the OpenAI envelope.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from .errors import ApiError
from .media import Media
from .media_urls import BadSignature, Expired

bp = Blueprint("files", __name__, url_prefix="/v1/files")


def _media() -> Media:
    return current_app.extensions["gbp.media"]


def _not_found(file_id: str) -> ApiError:
    return ApiError(404, f"No file with id {file_id!r} (it may have expired).", code="file_not_found", param="id")


@bp.get("/<file_id>/content")
def content(file_id: str):
    media = _media()
    if not media.valid_id(file_id):
        raise _not_found(file_id)
    try:
        media.signer.check(file_id, request.args.get("expires"), request.args.get("signature"))
    except BadSignature:
        raise ApiError(403, "This file URL is not valid: its signature does not match.",
                       code="invalid_signature") from None
    except Expired:
        raise ApiError(410, "This file URL has expired; ask for the file again.", type="invalid_request_error",
                       code="url_expired") from None
    ref = media.find(file_id)
    if ref is None:
        raise _not_found(file_id)
    response = Response(media.pieces(ref), content_type=ref.mime_type)
    response.content_length = ref.size
    response.headers["Content-Disposition"] = f'inline; filename="{ref.name}"'
    # The bytes come from the upstream, not from us: never let a browser run them as a page.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=%d" % max(0, ref.expires_at - int(media.clock()))
    return response
