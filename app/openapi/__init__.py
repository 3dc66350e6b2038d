"""The gateway's published API: `GET /openapi.json` (OpenAPI 3.1) and `GET /docs` (a page).

One module per surface declares its paths and schemas (openai, responses, anthropic, generate,
native, admin, service), beside the code it describes; this module assembles them once.
tests/unit/test_openapi.py checks that every Flask route is described and that the document
validates; tests/integration/test_schema_conformance.py checks real answers against it.
No key is needed for either: the document holds no data, only the shape of the API.
"""
from __future__ import annotations

import json
from functools import lru_cache

from flask import Blueprint, Response

from . import admin, anthropic, errors, generate, native, openai, responses, service
from .page import render_page
from .schema import HEADERS, SECURITY_SCHEMES

SURFACES = (openai, responses, anthropic, generate, native, admin, service)
bp = Blueprint("openapi", __name__)


@lru_cache(maxsize=1)
def document() -> dict:
    paths: dict = {}
    schemas = dict(errors.SCHEMAS)
    for surface in SURFACES:
        for name in surface.SCHEMAS:
            assert name not in schemas, f"schema {name} declared twice"
        schemas.update(surface.SCHEMAS)
        for path, operations in surface.paths().items():
            paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "gemini-business-proxy", "version": "1",
                 "description": "OpenAI-, Anthropic- and Gemini-compatible gateway in front of Gemini Business, "
                                "its native session API and its admin API. Token counts are estimates."},
        "tags": [{"name": s.TAG} for s in SURFACES] + [{"name": "Files"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES, "headers": HEADERS},
    }


@lru_cache(maxsize=1)
def _json_text() -> str:
    return json.dumps(document(), ensure_ascii=False)


@bp.get("/openapi.json")
def openapi_json():
    return Response(_json_text(), mimetype="application/json")


@bp.get("/docs")
def docs_page():
    return Response(render_page(document()), mimetype="text/html")
