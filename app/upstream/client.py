"""GeminiBusiness: the widget API over urllib3's pools (app/upstream/http.py Http: one per
worker, and one per outbound proxy that accounts use, app/upstream/proxies.py); getoxsrf and
refreshcookies go through the same (tokens.py).

Every call signs in with a cached JWT; a 401 gets one fresh JWT and one retry (§3.5), after
which the failure is the account's. Errors surface as app.upstream.errors exceptions.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator, Sequence
from urllib.parse import urljoin

import urllib3

from . import http as transport
from .credential import Credential
from .. import metrics
from ..config import Config
from . import errors, files, identity, proxies
from .http import Http, release
from .events import FileReply, SessionInfo, Skipped, Text, Thought, error_from_body, events_of
from .stream import ArrayScanner
from .tokens import TokenSource

log = logging.getLogger("gbp.upstream")
SESSION_CALL_TIMEOUT = 30.0
READ_SIZE = 64 * 1024
MAX_DOWNLOAD_REDIRECTS = 3


class GeminiBusiness:
    def __init__(self, config: Config, http: Http | None = None, clock=time.time, renew=None):
        self.config = config
        self.http = http or Http()
        self.routes = proxies.Routes(self.http, config.upstream_proxy, Http)
        self.api = config.api_base_url
        connect = config.upstream_connect_timeout
        self.session_timeout = (connect, min(SESSION_CALL_TIMEOUT, config.upstream_read_timeout))
        self.stream_timeout = (connect, config.upstream_read_timeout)
        self.footprint = identity.Footprint.from_config(config)
        self.tokens = TokenSource(self.http, config.gemini_business_url, self.session_timeout, clock,
                                  hosts=(config.auth_url,), renew=renew, footprint=self.footprint,
                                  routes=self.routes)

    def create_session(self, account: Credential) -> str:
        response = self._post(account, "widgetCreateSession", {"session": {"name": "", "displayName": ""}})
        name = _json(response).get("session", {}).get("name")
        if not isinstance(name, str) or "/sessions/" not in name:
            raise errors.UpstreamFailed("widgetCreateSession returned no session name")
        return name

    def delete_session(self, account: Credential, name: str) -> None:
        self._post(account, "widgetDeleteSession", {"name": name}).close()

    def stream_assist(self, account: Credential, session: str, text: str, model_id: str | None,
                      file_ids: Sequence[str] = (), tool: str | None = None) -> "AssistStream":
        """`file_ids`: uploads of this same session (§5.2); `tool`: a media model's toolsSpec
        key (Model.tool), sent alone."""
        request = assist_request(self.config, session, text, model_id, file_ids, tool)
        try:
            response = self._post(account, "widgetStreamAssist", request, stream=True)
        except (errors.UpstreamRejected, errors.SessionGone) as exc:
            if model_id and names_model(exc.message, model_id):
                raise errors.ModelRejected(model_id, exc) from exc
            raise
        return AssistStream(response, on_refused=lambda: self.tokens.invalidate(account))

    def upload_file(self, account: Credential, session: str, data: bytes, mime_type: str,
                    file_name: str) -> str:
        """widgetAddContextFile (§5.3): the fileId, usable in `session` only.
        Raises UnsupportedFileType for the upstream's `Unsupported file type`."""
        try:
            response = self._post(account, "widgetAddContextFile",
                                  files.upload_request(session, data, mime_type, file_name))
        except errors.UpstreamRejected as exc:
            raise files.upload_refusal(exc, mime_type) from exc
        file_id = _json(response).get("addContextFileResponse", {}).get("fileId")
        if not isinstance(file_id, str) or not file_id:
            raise errors.UpstreamFailed("widgetAddContextFile returned no fileId")
        return file_id

    def list_session_files(self, account: Credential, session: str,
                           origin: str | None = None) -> list[files.SessionFile]:
        """widgetListSessionFileMetadata (§5.4); `origin` AI_GENERATED / USER_UPLOADED or None
        for every file."""
        response = self._post(account, "widgetListSessionFileMetadata", files.list_request(session, origin))
        return files.parse_list(_json(response))

    def download_file(self, account: Credential, session: str, file_id: str,
                      form: int | None = None) -> tuple[bytes, str]:
        """downloadFile (§5.5): (bytes, MIME type), at most MAX_FILE_MB, raw or base64 body.

        `form` 1 or 2; by default 2 when `session` is project-qualified (the metadata's
        `session`), else 1. A redirect is followed only to the API's own origin: the request
        carries the account's JWT, which must never reach another host."""
        if form is None:
            form = 2 if session.startswith("projects/") else 1
        url = files.download_url(self.api, session, file_id, form)
        for _ in range(MAX_DOWNLOAD_REDIRECTS + 1):
            response = self._send(account, "downloadFile", "GET", url, headers_of=self.footprint.download_headers,
                                  stream=True, redirects=True)
            location = response.get_redirect_location()
            if not location:
                try:
                    data, mime_type = files.decoded(self._capped_body(response), response.headers)
                finally:
                    release(response)
                if len(data) > self.config.max_file_bytes:  # a sniffed base64 body, decoded
                    raise _too_large(self.config.max_file_bytes)
                return data, mime_type
            target = urljoin(url, location)
            release(response)
            if files.origin_of(target) != files.origin_of(self.api):
                raise errors.UpstreamFailed("downloadFile redirected to another origin; not followed "
                                            "(the request carries the account's token)")
            url = target
        raise errors.UpstreamFailed("downloadFile redirected too many times")

    def _capped_body(self, response: urllib3.BaseHTTPResponse) -> bytes:
        """The body, refused beyond MAX_FILE_MB (text may be base64, 4/3 of that)."""
        limit = self.config.max_file_bytes
        text = files.is_base64_body(response.headers, b"") or \
            response.headers.get("content-type", "").lower().startswith("text/plain")
        wire_limit = limit * 4 // 3 + 4 if text else limit
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > wire_limit:
            raise _too_large(limit)
        body = bytearray()
        try:
            for chunk in response.stream(READ_SIZE, decode_content=True):
                body += chunk
                if len(body) > wire_limit:
                    raise _too_large(limit)
        except (transport.Error, OSError) as exc:
            if transport.timed_out(exc):
                raise errors.UpstreamTimeout("downloadFile went quiet for too long") from exc
            raise errors.StreamBroken(f"downloadFile broke off ({type(exc).__name__})") from exc
        if len(body) > wire_limit:
            raise _too_large(limit)
        return bytes(body)

    def _post(self, account: Credential, verb: str, request: dict, stream: bool = False) -> urllib3.BaseHTTPResponse:
        key = verb[len("widget"):][0].lower() + verb[len("widget") + 1:] + "Request"
        body = json.dumps({"configId": account.config_id, "additionalParams": {"token": "-"}, key: request},
                          ensure_ascii=False).encode("utf-8")
        return self._send(account, verb, "POST", f"{self.api}/locations/global/{verb}", body=body,
                          headers_of=self.footprint.widget_headers, stream=stream)

    def _send(self, account: Credential, verb: str, method: str, url: str, *, headers_of,
              body: bytes | None = None, stream: bool = False, redirects: bool = False) -> urllib3.BaseHTTPResponse:
        """One call signed with the account's JWT: a 401 gets one fresh JWT and one retry (§3.5);
        any answer but 200 (or a redirect, when `redirects`: the caller follows it or not) raises
        its upstream error. Redirects are never followed here. `stream`: the body is left to
        read (then http.release); otherwise it is in `.data` and the connection pooled again."""
        timeout = self.stream_timeout if stream else self.session_timeout
        http, proxy = self.routes.session(account), self.routes.proxy_of(account)
        for attempt in (1, 2):
            headers = headers_of(self.tokens.bearer(account))
            started = time.monotonic()
            try:
                response = http.request(method, url, body=body, headers=headers, timeout=timeout, stream=stream)
            except (transport.Error, OSError) as exc:
                timed_out = transport.timed_out(exc)
                metrics.upstream_call(verb, "timeout" if timed_out else "unreachable")
                proxies.blame(exc, proxy, verb)  # the account's proxy failed, not the upstream
                if timed_out:
                    raise errors.UpstreamTimeout(f"{verb} timed out") from exc
                raise errors.UpstreamFailed(f"{verb} could not reach Gemini Business: {type(exc).__name__}") from exc
            status = response.status
            metrics.upstream_call(verb, status)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("upstream exchange", extra={
                    "verb": verb, "status": status, "account": account.id, "attempt": attempt,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                    "body": (body or b"")[:2000].decode("utf-8", "replace")})
            if status == 200 or (redirects and response.get_redirect_location()):
                return response
            failure = _error_of(response)
            if status == 401 and attempt == 1:
                self.tokens.invalidate(account)  # the JWT was refused: sign a fresh one, once
                continue
            raise failure
        raise AssertionError("unreachable")


def assist_request(config: Config, session: str, text: str, model_id: str | None,
                   file_ids: Sequence[str] = (), tool: str | None = None) -> dict:
    """The streamAssistRequest (§5.2). A media model's tool goes alone in toolsSpec (A's image
    and video models send only their one spec, §5.2, §7.1)."""
    tools = {tool: {}} if tool else {"webGroundingSpec": {}, "toolRegistry": "default_tool_registry"}
    request = {
        "session": session,
        "query": {"parts": [{"text": text}]},
        "filter": "",
        "fileIds": list(file_ids),
        "answerGenerationMode": "NORMAL",
        "toolsSpec": tools,
        "languageCode": config.upstream_language,
        "userMetadata": {"timeZone": config.upstream_timezone},
        "assistSkippingMode": "REQUEST_ASSIST",
    }
    if model_id:  # "auto" leaves the whole object out (§5.2)
        request["assistGenerationConfig"] = {"modelId": model_id}
    return request


def _too_large(limit: int) -> errors.FileTooLarge:
    return errors.FileTooLarge(f"the file is over MAX_FILE_MB ({limit // (1024 * 1024)} MB)")


class AssistStream:
    """The events of one streamed answer, read as they arrive. close() cancels the upstream call.

    Raises at the end: StreamBroken (truncated/malformed), TokenRefused (a body of tokens only,
    §6.7), EmptyAnswer (no text, file or refusal; e.g. thoughts only). On TokenRefused, here or
    from an error element, `on_refused` runs first: it drops the JWT that was refused.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, on_refused=None):
        self.response = response
        self.on_refused = on_refused
        self.session: str | None = None
        self.closed = False
        self.aborted = False

    def __iter__(self):
        try:
            yield from self._events()
        except errors.TokenRefused:
            if self.on_refused is not None:
                self.on_refused()
            raise

    def _events(self):
        scanner = ArrayScanner()
        saw_response = saw_token = answered = thought = False
        pieces = self._pieces()
        try:
            while chunk := self._read(pieces):
                for element in scanner.feed(chunk):
                    if isinstance(element, dict):
                        saw_token |= "uToken" in element
                        saw_response |= "streamAssistResponse" in element
                    for event in events_of(element):
                        if isinstance(event, (Text, FileReply, Skipped)):
                            answered = True
                        thought |= isinstance(event, Thought)
                        if isinstance(event, SessionInfo):
                            self.session = event.session
                        yield event
                # A held stream waits in _read most of its life: keep nothing of this chunk
                # (its bytes, its decoded JSON, ~2.5 KB a stream) while it waits for the next.
                chunk = element = event = None
            scanner.finish()
        finally:
            if hasattr(pieces, "close"):
                pieces.close()  # a body not read to its end: urllib3 closes its connection
            self.close()
        if saw_token and not saw_response:
            raise errors.TokenRefused("the upstream answered with a token only", reason="token-only body")
        if not answered:
            raise errors.EmptyAnswer("the upstream produced thoughts but no answer" if thought
                                     else "the upstream produced an empty answer")

    def _pieces(self) -> Iterator[bytes]:
        """The body as it arrives, decoded (gzip and deflate, br with brotli, zstd with
        backports.zstd), never waiting for more than what is there. A chunked body (what the
        upstream streams) is read chunk by chunk by urllib3's read_chunked: one generator for
        the whole body, so its error handling is set up once and each chunk costs a few Python
        calls, where read1() went through ~15 (its error catcher, http.client's read1 and chunk
        book-keeping, the decoded-bytes buffer) for each of a body's ~70 reads: ~3 µs a read
        (bench/README.md, profile). At most READ_SIZE bytes at a time, however large a chunk."""
        response = self.response
        if response.chunked and response.supports_chunked_reads():
            return response.read_chunked(READ_SIZE, decode_content=True)
        return iter(lambda: response.read1(READ_SIZE, decode_content=True), b"")

    def _read(self, pieces: Iterator[bytes]) -> bytes:
        try:
            return next(pieces, b"")
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise errors.UpstreamTimeout("the upstream stream went quiet for too long") from exc
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if self.closed or self.aborted:
                return b""
            raise errors.StreamBroken(f"the upstream stream broke off ({type(exc).__name__})") from exc

    def close(self) -> None:
        """Release the response; call from the thread that iterates."""
        if not self.closed:
            self.closed = True
            release(self.response)

    def abort(self) -> None:
        """Cancel from another thread (the client went away). Closing the response there would
        race the reader inside the same buffered file, so shut the socket: the blocked read
        returns at once and the reader closes the response itself."""
        if not (self.closed or self.aborted):  # an answer cut off, not one that had ended
            metrics.UPSTREAM_CANCELLED.inc()
        self.aborted = True
        sock = getattr(self.response.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def names_model(message: str, model_id: str) -> bool:
    """Whether an upstream 400/404 is about the model rather than the session or the body.
    How the service words it is undocumented (§13 Q18): a message that names the id or speaks
    of a model is taken as a refusal of the model."""
    return model_id in message or re.search(r"\bmodel", message, re.IGNORECASE) is not None


def _json(response: urllib3.BaseHTTPResponse) -> dict:
    """The body of an answer read whole (not streamed): its connection is back in the pool."""
    try:
        body = json.loads(response.data)
    except ValueError as exc:  # UnicodeDecodeError included
        raise errors.UpstreamFailed("the upstream sent a body that is not JSON") from exc
    return body if isinstance(body, dict) else {}


def _error_of(response: urllib3.BaseHTTPResponse) -> errors.UpstreamError:
    try:
        body = json.loads(response.data[:65536] or b"{}")  # a streamed answer's body is read here
    except (ValueError, transport.Error, OSError):
        body = {}
    finally:
        release(response)
    retry_after = response.headers.get("retry-after")
    seconds = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    return error_from_body(body, status=response.status, retry_after=seconds)
