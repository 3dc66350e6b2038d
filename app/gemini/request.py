"""The native chat's `files`: where each file is, as app/inputs.py's FileSource (which loads,
caps and fetches them for both surfaces).

    "files": [{"data": "<base64>", "mime_type": "image/png", "name": "cat.png"},
              {"url": "data:application/pdf;base64,…", "name": "report.pdf"},
              {"url": "https://example.com/cat.webp"}]

`data` (standard base64) needs its `mime_type`; a `url` carries its own type, and an http(s)
one is fetched by the gateway behind the SSRF guard (images only, like OpenAI's image_url).
"""
from __future__ import annotations

from ..errors import bad_request
from ..inputs import FileSource


def parse_files(value) -> tuple[FileSource, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("files must be an array of files", "files", "invalid_type")
    return tuple(_file(item, f"files[{i}]") for i, item in enumerate(value))


def _file(item, here: str) -> FileSource:
    if not isinstance(item, dict):
        raise bad_request(f"{here} must be an object with url, or data and mime_type", here, "invalid_type")
    name = _text(item, "name", here, required=False)
    if ("url" in item) == ("data" in item):
        raise bad_request(f"{here} needs either url (a data: or https URL) or data (base64) with mime_type",
                          here, "invalid_value")
    if "url" in item:
        if "mime_type" in item:
            raise bad_request(f"{here}.mime_type goes with data; a url carries its own type",
                              f"{here}.mime_type", "invalid_value")
        return FileSource(_text(item, "url", here), f"{here}.url", name=name, remote=True)
    return FileSource("", f"{here}.data", name=name, encoded=_text(item, "data", here),
                      mime_type=_text(item, "mime_type", here), mime_param=f"{here}.mime_type")


def _text(item: dict, key: str, here: str, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if value is None:
        raise bad_request(f"{here}.{key} is required", f"{here}.{key}", "missing_required_parameter")
    if not isinstance(value, str):
        raise bad_request(f"{here}.{key} must be a string", f"{here}.{key}", "invalid_type")
    return value
