"""Generated images and videos, kept between generation and download, bounded in size and age.

Where the bytes live: in the store, not in files. A signed URL may reach any worker of any
host (nginx or a load balancer picks one), and with several hosts on Redis the files of one
host's DATA_DIR are invisible to the others; the store is the one place every worker of every
host reads. With SQLite (one host) the bytes are rows of DATA_DIR/state.db; with Redis they
are Redis memory, which is why MEDIA_MAX_MB bounds the total.

Layout: namespace `media` holds one small record per item (type, name, size, when made, when
it expires), so listing them for the bounds is cheap; namespace `media_data` holds the bytes
in CHUNK-sized base64 pieces (`<id>:<n>`), so no single store value is large and a download
streams one piece at a time. The pieces are written before the item's record: an item that can
be listed has all its bytes.

Bounds: an item lives MEDIA_URL_TTL seconds (its URL expires with it). Before a new item is
written, expired items are removed and then the oldest ones until the new one fits under
MEDIA_MAX_MB; every worker's sweep (every SWEEP_INTERVAL) does the same without a new item,
which also mends the excess of two workers that wrote at once. The store's own expiry (the
item's expiry plus GRACE) is only a safety net for the pieces of a write that died halfway:
the sweep deletes items itself, while their records are still there to delete.
"""
from __future__ import annotations

import base64
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from .errors import ApiError
from .media_urls import UrlSigner
from .store.base import Store, StoreUnavailable

log = logging.getLogger("gbp.media")

ITEMS = "media"
DATA = "media_data"
CHUNK = 1024 * 1024      # bytes per stored piece
GRACE = 300.0            # seconds the store keeps records past the item's expiry (see above)
SWEEP_INTERVAL = 10.0    # seconds between a worker's sweeps
ID = re.compile(r"file-[0-9a-f]{32}")
MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
PATH = "/v1/files/{id}/content"


class MediaTooLarge(ValueError):
    """One item larger than the whole of MEDIA_MAX_MB: it can never be kept."""


@dataclass(frozen=True)
class MediaRef:
    id: str
    mime_type: str
    name: str
    size: int
    expires_at: int  # Unix seconds; the URL is signed until then


def safe_name(name: str, mime_type: str) -> str:
    """A file name for Content-Disposition: letters, digits, . _ - only, never empty or hidden."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._")[:100]
    if not cleaned:
        cleaned = "file." + re.sub(r"[^a-z0-9]+", "", mime_type.split("/")[-1].split("+")[0])[:10] or "file"
    return cleaned


def clean_mime(mime_type: str) -> str:
    value = (mime_type or "").split(";")[0].strip().lower()
    return value if MIME.fullmatch(value) else "application/octet-stream"


class Media:
    def __init__(self, store: Store, signer: UrlSigner, *, max_bytes: int, ttl: float,
                 public_base_url: str = "", clock=time.time):
        self.store = store
        self.signer = signer
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock
        self._started = False

    # --- what the pipeline uses ---------------------------------------------------------------

    def put(self, data: bytes, mime_type: str, name: str = "") -> MediaRef:
        """Keep `data` for MEDIA_URL_TTL seconds, making room (oldest first) if needed."""
        if len(data) > self.max_bytes:
            raise MediaTooLarge(f"{len(data)} bytes is more than MEDIA_MAX_MB allows ({self.max_bytes} bytes)")
        mime_type = clean_mime(mime_type)
        ref = MediaRef(id="file-" + secrets.token_hex(16), mime_type=mime_type, name=safe_name(name, mime_type),
                       size=len(data), expires_at=int(self.clock() + self.ttl))
        self._make_room(len(data))
        kept_until = ref.expires_at + GRACE
        for n, start in enumerate(range(0, len(data), CHUNK)):
            piece = base64.b64encode(data[start:start + CHUNK]).decode()
            self.store.put(DATA, f"{ref.id}:{n}", {"b64": piece}, expires_at=kept_until)
        self.store.put(ITEMS, ref.id, {"mime_type": ref.mime_type, "name": ref.name, "size": ref.size,
                                       "created": self.clock(), "expires_at": ref.expires_at}, expires_at=kept_until)
        return ref

    def url(self, ref: MediaRef, base_url: str, expires: int | None = None) -> str:
        """The absolute signed URL of an item. base_url is the request's own (request.host_url:
        behind nginx, the Host the client sent and the scheme of X-Forwarded-Proto) unless
        PUBLIC_BASE_URL is set. `expires` defaults to the item's expiry."""
        base = self.public_base_url or base_url.rstrip("/")
        expires = ref.expires_at if expires is None else int(expires)
        return base + PATH.format(id=ref.id) + "?" + self.signer.query(ref.id, expires)

    # --- what the download route uses ---------------------------------------------------------

    @staticmethod
    def valid_id(file_id: str) -> bool:
        """Ids are ours alone (file- and 32 hex digits): anything else, a path included, is unknown."""
        return ID.fullmatch(file_id) is not None

    def find(self, file_id: str) -> MediaRef | None:
        """The live item of that id, or None (unknown, malformed, expired or evicted)."""
        if not self.valid_id(file_id):
            return None
        record = self.store.get(ITEMS, file_id)
        if record is None or record["expires_at"] <= self.clock():
            return None
        return MediaRef(id=file_id, mime_type=record["mime_type"], name=record["name"], size=record["size"],
                        expires_at=record["expires_at"])

    def pieces(self, ref: MediaRef) -> Iterator[bytes]:
        """The bytes, one stored piece at a time. A piece gone meanwhile (the item was evicted
        during the download) ends the body short of its Content-Length: the client sees a
        broken download, never someone else's bytes."""
        for n in range((ref.size + CHUNK - 1) // CHUNK):
            record = self.store.get(DATA, f"{ref.id}:{n}")
            if record is None:
                raise LookupError(f"media {ref.id} lost piece {n} while being read")
            yield base64.b64decode(record["b64"])

    # --- bounds ---------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Remove expired items, then the oldest while over MEDIA_MAX_MB; how many went."""
        return self._make_room(0)

    def _make_room(self, incoming: int) -> int:
        now = self.clock()
        live, removed = [], 0
        for file_id, record in self.store.list(ITEMS).items():
            if record.get("expires_at", 0) <= now:
                self._delete(file_id, record)
                removed += 1
            else:
                live.append((record.get("created", 0), file_id, record))
        live.sort()
        total = sum(record.get("size", 0) for _, _, record in live)
        for _, file_id, record in live:
            if total + incoming <= self.max_bytes:
                break
            self._delete(file_id, record)
            total -= record.get("size", 0)
            removed += 1
        return removed

    def _delete(self, file_id: str, record: dict) -> None:
        self.store.delete(ITEMS, file_id)  # first: it is no longer served
        for n in range((int(record.get("size", 0)) + CHUNK - 1) // CHUNK):
            self.store.delete(DATA, f"{file_id}:{n}")

    def start(self) -> None:
        """Sweep every SWEEP_INTERVAL in the background (a greenlet under gevent), per worker."""
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._loop, name="media-sweep", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(SWEEP_INTERVAL)
            try:
                removed = self.sweep()
                if removed:
                    log.info("media removed", extra={"items": removed})
            except StoreUnavailable as exc:
                log.warning("media sweep skipped, the store is unavailable: %s", exc)
            except Exception:
                log.exception("media sweep failed")


def publisher(media: Media, output: str, base_url: str):
    """publish(bytes, MIME type, name) -> the link a client is given for a generated file:
    a signed URL of the stored item (MEDIA_OUTPUT=url), or a data: URL holding the bytes
    (MEDIA_OUTPUT=base64: nothing is stored; the answer carries the file itself)."""

    def publish(data: bytes, mime_type: str, name: str) -> str:
        if output == "base64":
            return f"data:{clean_mime(mime_type)};base64,{base64.b64encode(data).decode()}"
        try:
            return media.url(media.put(data, mime_type, name), base_url)
        except MediaTooLarge as exc:  # told to the client like any failure of the answer
            raise ApiError(502, f"The generated file cannot be kept: {exc}.", code="media_too_large") from exc

    return publish
