"""Anthropic's image and document blocks → a file to upload, or text for the query.

An image or a PDF (base64, or a URL) is a `FileSource` the pipeline uploads; a plain-text
document (a `text` or `content` source) goes into the query as a `<document>` with its title
and context, since the upstream reads text best as text. Files uploaded through Anthropic's
Files API are refused: the gateway cannot reach them.
"""
from __future__ import annotations

from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect, optional

PDF = "application/pdf"
# A document fetched by URL: Anthropic's url source is a PDF
DOCUMENT_TYPES = (PDF,)
FILE_BLOCKS = ("image", "document")


def file_block(block: dict, here: str) -> tuple[str, FileSource | None]:
    """An image or document block: (text to put in the message, the file to upload)."""
    image = block.get("type") == "image"
    source = expect(block.get("source"), dict, f"{here}.source")
    kind = source.get("type")
    param = f"{here}.source"
    if kind == "base64":
        data = expect(source.get("data"), str, f"{param}.data")
        mime = expect(source.get("media_type"), str, f"{param}.media_type")
        if image and not mime.lower().startswith("image/"):
            raise bad_request(f"{param}.media_type must be an image type", f"{param}.media_type")
        return "", FileSource("", f"{param}.data", name=_title(block, here), image=image, encoded=data,
                              mime_type=mime, mime_param=f"{param}.media_type")
    if kind == "url":
        url = expect(source.get("url"), str, f"{param}.url")
        return "", FileSource(url, f"{param}.url", name=_title(block, here), image=image, remote=True,
                              remote_types=() if image else DOCUMENT_TYPES)
    if kind == "text" and not image:  # a plain-text document: its text goes in the query
        data = expect(source.get("data"), str, f"{param}.data")
        return _document(block, here, data), None
    if kind == "content" and not image:
        content = source.get("content")
        if isinstance(content, str):
            return _document(block, here, content), None
        expect(content, list, f"{param}.content")
        texts = []
        for k, part in enumerate(content):
            there = f"{param}.content[{k}]"
            expect(part, dict, there)
            if part.get("type") == "text":
                texts.append(expect(part.get("text"), str, f"{there}.text"))
            elif part.get("type") != "image":
                raise bad_request(f"{there}.type must be text or image", f"{there}.type")
        return _document(block, here, "\n".join(texts)), None
    if kind == "file":
        raise bad_request(f"{param}: files uploaded through the Files API are not supported; send the file as "
                          "base64 or a URL", f"{param}.type", "unsupported_value")
    kinds = "base64, url" if image else "base64, url, text, content"
    raise bad_request(f"{param}.type must be one of {kinds}", f"{param}.type")


def _title(block: dict, here: str) -> str:
    return optional(block, "title", str, f"{here}.title") or ""


def _document(block: dict, here: str, text: str) -> str:
    title = _title(block, here)
    context = optional(block, "context", str, f"{here}.context") or ""
    head = "<document" + (f' title="{title}"' if title else "") + ">"
    return "\n".join([head] + [context] * bool(context) + [text, "</document>"])
