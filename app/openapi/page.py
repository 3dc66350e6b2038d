"""/docs: the document as one self-contained page (no script, no CDN: the gateway may run
offline), every endpoint with its parameters, request body, answers and their schemas."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from html import escape

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em}.op{margin:1em 0;border:1px solid #ddd;border-radius:4px;padding:.5em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}.get{color:#0a6}.post{color:#06c}
.delete{color:#c30}.patch{color:#a60}code,pre{font:12px ui-monospace,monospace}pre{background:#f6f6f6;padding:.5em;
overflow:auto}details{margin:.3em 0}summary{cursor:pointer}"""


def _schema(schema) -> str:
    text = json.dumps(schema, indent=2, ensure_ascii=False)
    names = re.findall(r'"#/components/schemas/([\w.-]+)"', text)
    links = ", ".join(f'<a href="#schema-{escape(n)}">{escape(n)}</a>' for n in dict.fromkeys(names))
    return f"<pre>{escape(text)}</pre>" + (f"<p>see {links}</p>" if links else "")


def _operation(path: str, method: str, op: dict) -> str:
    out = [f'<div class="op" id="{escape(method + path)}"><span class="m {method}">{method}</span> '
           f"<code>{escape(path)}</code> — {escape(op.get('summary', ''))}"]
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    security = op.get("security")
    keys = ", ".join(name for option in security or () for name in option) if security else "none"
    out.append(f"<p>key: {escape(keys)}</p>")
    for param in op.get("parameters", ()):
        out.append(f"<div>{escape(param['in'])} <code>{escape(param['name'])}</code>: "
                   f"{escape(param.get('description', ''))}</div>")
    if "requestBody" in op:
        for media, content in op["requestBody"]["content"].items():
            examples = "".join(f"<p>example:</p>{_schema(example['value'])}"
                               for example in content.get("examples", {}).values())
            out.append(f"<details><summary>request <code>{escape(media)}</code></summary>"
                       f"{_schema(content['schema'])}{examples}</details>")
    for status, answer in op["responses"].items():
        for media, content in answer.get("content", {"": {}}).items():
            inner = _schema(content["schema"]) if "schema" in content else ""
            out.append(f"<details><summary>{escape(status)} <code>{escape(media)}</code> "
                       f"{escape(answer['description'])}</summary>{inner}</details>")
    out.append("</div>")
    return "".join(out)


@lru_cache(maxsize=1)
def _cached(text: str) -> str:
    document = json.loads(text)
    sections: dict[str, list[str]] = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            sections.setdefault(op["tags"][0], []).append(_operation(path, method, op))
    body = [f"<h1>{escape(document['info']['title'])}</h1><p>{escape(document['info']['description'])}</p>"
            '<p>The machine-readable document: <a href="openapi.json">openapi.json</a>.</p>']
    for tag, ops in sections.items():
        body.append(f"<h2>{escape(tag)}</h2>" + "".join(ops))
    body.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        body.append(f'<details id="schema-{escape(name)}"><summary><code>{escape(name)}</code></summary>'
                    f"{_schema(schema)}</details>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>API: '
            f"{escape(document['info']['title'])}</title><style>{STYLE}</style></head><body>"
            + "".join(body) + "</body></html>")


def render_page(document: dict) -> str:
    return _cached(json.dumps(document))  # the surfaces in the document's order
