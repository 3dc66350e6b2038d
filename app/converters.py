"""URL converters: a `<path:…>` parameter (a model name in Gemini's API and the model routes)
holds any text, a line break included.

Werkzeug's own `path` converter stops at a line break (its `.` does not match one), so a model
name with a `%0A` in it matched no route: the request became an unrouted 404 in OpenAI's
envelope, even where the surface answers in Google's (`POST /v1/models/{model}:generateContent`,
whose /v1 prefix is OpenAI's). Matched, the view refuses such a name in its own words.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import PathConverter


class AnyTextPath(PathConverter):
    regex = "[^/](?s:.)*?"  # as Werkzeug's, but `.` matches a line break too


def install(app: Flask) -> None:
    app.url_map.converters["path"] = AnyTextPath
