"""The files the simulator "generates" for image and video requests (§6.4, §12): real,
small, deterministic (they depend on the prompt only), made with the standard library.

* image: a PNG of IMAGE_SIZE x IMAGE_SIZE RGB pixels, a gradient tinted by sha256(prompt),
  written chunk by chunk (signature, IHDR, one zlib IDAT, IEND, each with its CRC). Any PNG
  decoder opens it.
* video: an MP4 that is structurally valid but holds no decodable frames: the boxes `ftyp`
  (isom; compatible isom, iso2, mp41), `moov` with only an `mvhd` (timescale 1000, duration
  1 s, next track 1, no `trak`), then `mdat` with VIDEO_PAYLOAD bytes (or the `video_bytes`
  knob's) derived from the prompt.
  A box parser walks it and `file`/libmagic calls it an ISO Media MP4; a player finds no track.
  Enough to prove a gateway passes the bytes on untouched; encoding real H.264 is not.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

IMAGE_SIZE = 64
VIDEO_PAYLOAD = 2048


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_for(prompt: str, size: int = IMAGE_SIZE) -> bytes:
    tint = hashlib.sha256(prompt.encode("utf-8")).digest()
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type None
        for x in range(size):
            rows += bytes(((x * 4 + tint[0]) % 256, (y * 4 + tint[1]) % 256,
                           ((x + y) * 2 + tint[2]) % 256))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _chunk(b"IEND", b""))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_for(prompt: str, payload_bytes: int = VIDEO_PAYLOAD) -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(b"mvhd", struct.pack(">IIIII", 0, 0, 0, 1000, 1000)  # version+flags, times
                + struct.pack(">IH", 0x10000, 0x100) + bytes(10)  # rate 1.0, volume 1.0
                + matrix + bytes(24) + struct.pack(">I", 1))  # pre_defined, next track id
    blocks = (hashlib.sha256(f"{block}:{prompt}".encode("utf-8")).digest() for block in range(-(-payload_bytes // 32)))
    return ftyp + _box(b"moov", mvhd) + _box(b"mdat", b"".join(blocks)[:payload_bytes])


def generated(kind: str, prompt: str, video_bytes: int = VIDEO_PAYLOAD) -> tuple[str, str, bytes, dict]:
    """(file name, MIME type, bytes, size fields) of what an image or video request makes;
    `video_bytes`: the video's payload (the `video_bytes` knob: a real video is megabytes)."""
    if kind == "image":
        return "generated_image.png", "image/png", png_for(prompt), {
            "width": IMAGE_SIZE, "height": IMAGE_SIZE}
    return "generated_video.mp4", "video/mp4", mp4_for(prompt, video_bytes), {}
