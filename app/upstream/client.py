"""GeminiBusiness: the widget API over one pooled requests.Session per worker.

Every call signs in with a cached JWT; a 401 gets one fresh JWT and one retry (§3.5), after
which the failure is the account's. Errors surface as app.upstream.errors exceptions.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import time

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .credential import Credential
from ..config import Config
from . import errors, identity
from .events import FileReply, SessionInfo, Skipped, Text, Thought, error_from_body, events_of
from .stream import ArrayScanner
from .tokens import TokenSource

log = logging.getLogger("gbp.upstream")
SESSION_CALL_TIMEOUT = 30.0
READ_SIZE = 64 * 1024


def http_session() -> requests.Session:
    session = requests.Session()
    # Many concurrent streams per gevent worker: keep a generous pool per host.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=128, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GeminiBusiness:
    def __init__(self, config: Config, http: requests.Session | None = None, clock=time.time, renew=None):
        self.config = config
        self.http = http or http_session()
        self.api = config.api_base_url
        connect = config.upstream_connect_timeout
        self.session_timeout = (connect, min(SESSION_CALL_TIMEOUT, config.upstream_read_timeout))
        self.stream_timeout = (connect, config.upstream_read_timeout)
        self.footprint = identity.Footprint.from_config(config)
        self.tokens = TokenSource(self.http, config.gemini_business_url, self.session_timeout, clock,
                                  hosts=(config.auth_url,), renew=renew, footprint=self.footprint)

    def create_session(self, account: Credential) -> str:
        response = self._post(account, "widgetCreateSession", {"session": {"name": "", "displayName": ""}})
        name = _json(response).get("session", {}).get("name")
        if not isinstance(name, str) or "/sessions/" not in name:
            raise errors.UpstreamFailed("widgetCreateSession returned no session name")
        return name

    def delete_session(self, account: Credential, name: str) -> None:
        self._post(account, "widgetDeleteSession", {"name": name}).close()

    def stream_assist(self, account: Credential, session: str, text: str, model_id: str | None) -> "AssistStream":
        request = {
            "session": session,
            "query": {"parts": [{"text": text}]},
            "filter": "",
            "fileIds": [],
            "answerGenerationMode": "NORMAL",
            "toolsSpec": {"webGroundingSpec": {}, "toolRegistry": "default_tool_registry"},
            "languageCode": self.config.upstream_language,
            "userMetadata": {"timeZone": self.config.upstream_timezone},
            "assistSkippingMode": "REQUEST_ASSIST",
        }
        if model_id:  # "auto" leaves the whole object out (§5.2)
            request["assistGenerationConfig"] = {"modelId": model_id}
        try:
            response = self._post(account, "widgetStreamAssist", request, stream=True)
        except (errors.UpstreamRejected, errors.SessionGone) as exc:
            if model_id and names_model(exc.message, model_id):
                raise errors.ModelRejected(model_id, exc) from exc
            raise
        return AssistStream(response, on_refused=lambda: self.tokens.invalidate(account))

    def _post(self, account: Credential, verb: str, request: dict, stream: bool = False) -> requests.Response:
        key = verb[len("widget"):][0].lower() + verb[len("widget") + 1:] + "Request"
        body = json.dumps({"configId": account.config_id, "additionalParams": {"token": "-"}, key: request},
                          ensure_ascii=False).encode("utf-8")
        url = f"{self.api}/locations/global/{verb}"
        timeout = self.stream_timeout if stream else self.session_timeout
        for attempt in (1, 2):
            headers = self.footprint.widget_headers(self.tokens.bearer(account))
            started = time.monotonic()
            try:
                response = self.http.post(url, data=body, headers=headers, timeout=timeout, stream=stream)
            except requests.Timeout as exc:
                raise errors.UpstreamTimeout(f"{verb} timed out") from exc
            except requests.RequestException as exc:
                raise errors.UpstreamFailed(f"{verb} could not reach Gemini Business: {type(exc).__name__}") from exc
            log.debug("upstream exchange", extra={
                "verb": verb, "status": response.status_code, "account": account.id, "attempt": attempt,
                "ms": round((time.monotonic() - started) * 1000, 1), "body": body[:2000].decode("utf-8", "replace")})
            if response.status_code == 200:
                return response
            failure = _error_of(response)
            if response.status_code == 401 and attempt == 1:
                self.tokens.invalidate(account)  # the JWT was refused: sign a fresh one, once
                continue
            raise failure
        raise AssertionError("unreachable")


class AssistStream:
    """The events of one streamed answer, read as they arrive. close() cancels the upstream call.

    Raises at the end: StreamBroken (truncated/malformed), TokenRefused (a body of tokens only,
    §6.7), EmptyAnswer (no text, file or refusal; e.g. thoughts only). On TokenRefused, here or
    from an error element, `on_refused` runs first: it drops the JWT that was refused.
    """

    def __init__(self, response: requests.Response, on_refused=None):
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
        try:
            while chunk := self._read():
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
            scanner.finish()
        finally:
            self.close()
        if saw_token and not saw_response:
            raise errors.TokenRefused("the upstream answered with a token only", reason="token-only body")
        if not answered:
            raise errors.EmptyAnswer("the upstream produced thoughts but no answer" if thought
                                     else "the upstream produced an empty answer")

    def _read(self) -> bytes:
        try:
            # Decoded as it arrives: gzip and deflate, br (brotli) and zstd (backports.zstd).
            return self.response.raw.read1(READ_SIZE, decode_content=True)
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
            self.response.close()

    def abort(self) -> None:
        """Cancel from another thread (the client went away). Closing the response there would
        race the reader inside the same buffered file, so shut the socket: the blocked read
        returns at once and the reader closes the response itself."""
        self.aborted = True
        sock = getattr(getattr(self.response.raw, "connection", None), "sock", None)
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


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError as exc:
        raise errors.UpstreamFailed("the upstream sent a body that is not JSON") from exc
    finally:
        response.close()
    return body if isinstance(body, dict) else {}


def _error_of(response: requests.Response) -> errors.UpstreamError:
    try:
        body = json.loads(response.content[:65536] or b"{}")
    except (ValueError, requests.RequestException):
        body = {}
    finally:
        response.close()
    retry_after = response.headers.get("retry-after")
    seconds = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    return error_from_body(body, status=response.status_code, retry_after=seconds)
