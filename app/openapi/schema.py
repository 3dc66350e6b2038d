"""The building blocks every surface's part of the OpenAPI document uses: objects, references,
operations, the error answers of each envelope, and the security schemes.

Request schemas say what the gateway reads (the main fields, their types); the APIs it speaks
allow fields it does not know, so objects stay open (`additionalProperties`) unless the gateway
itself refuses unknown fields. Response schemas say what the gateway writes.
"""
from __future__ import annotations

JSON = "application/json"
SSE = "text/event-stream"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, required: tuple[str, ...] = (), extra: bool = True, **more) -> dict:
    schema = {"type": "object", "properties": properties, **more}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def array(items: dict, **more) -> dict:
    return {"type": "array", "items": items, **more}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
ANY_OBJECT = {"type": "object"}


def body(schema: dict, media: str = JSON, required: bool = True, examples: tuple = ()) -> dict:
    """A request body; `examples`: whole requests that work (the page shows them, the conformance
    test sends each one, so every operation is also exercised with a request that succeeds)."""
    content: dict = {"schema": schema}
    if examples:
        content["examples"] = {f"example{n}": {"value": value} for n, value in enumerate(examples, 1)}
    return {"required": required, "content": {media: content}}


def answer(description: str, schema: dict | None = None, media: str = JSON, stream: dict | None = None) -> dict:
    """A success answer: JSON, and an event stream when the request asks for one."""
    content = {}
    if schema is not None:
        content[media] = {"schema": schema}
    if stream is not None:
        content[SSE] = {"schema": stream}
    out = {"description": description, "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}}}
    if content:
        out["content"] = content
    return out


def sse_event(description: str, names: tuple[str, ...] = (), data: dict | None = None, last: str = "") -> dict:
    """One server-sent event of a stream (`text/event-stream`), as a client's parser reads it: its
    name (`event:`, "message" when unnamed) and its `data:` text, JSON of `data`'s schema, or
    `last`, a closing text that is not JSON (chat completions' `[DONE]`)."""
    text: dict = {"type": "string"}
    if data is not None:
        text.update(contentMediaType="application/json", contentSchema=data)
    if last:
        text = {"anyOf": [{"const": last}, text]}
    event = {"type": "string", "enum": list(names)} if names else {"type": "string"}
    return obj({"event": event, "data": text, "id": STRING, "retry": INTEGER}, ("data",), description=description)


# What each status means; the operations list the ones they can answer.
STATUS_TEXT = {
    400: "invalid request (the field at fault in `param`)", 401: "missing or wrong key",
    403: "refused (a file link's signature, or a model the client key may not use)", 404: "unknown URL, model or object",
    405: "method not allowed", 408: "request body too slow", 409: "conflict",
    410: "gone (an expired file link)", 413: "request body too large",
    429: "rate limited (the failed-key throttle, a client key's limit, or every account busy or out of quota); "
         "see Retry-After",
    500: "an unexpected error (never client input)", 502: "the upstream failed or answered unusably",
    503: "no account or the store is unavailable; see Retry-After", 504: "the upstream timed out",
    529: "overloaded (Anthropic's name for 503: no account free)",
}
COMMON = (400, 401, 403, 404, 413, 429, 500, 502, 503, 504)


def errors(envelope: str, statuses=COMMON) -> dict:
    """The error answers of an operation, each in its surface's envelope (a components schema)."""
    out = {}
    for status in statuses:
        out[str(status)] = {
            "description": STATUS_TEXT[status],
            "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"},
                        "retry-after": {"$ref": "#/components/headers/RetryAfter"}},
            "content": {JSON: {"schema": ref(envelope)}},
        }
    return out


def operation(summary: str, tag: str, responses: dict, *, request: dict | None = None, security=None,
              parameters: list | None = None, description: str = "") -> dict:
    op = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        op["description"] = description
    if request is not None:
        op["requestBody"] = request
    if parameters:
        op["parameters"] = parameters
    if security is not None:
        op["security"] = security
    return op


def path_param(name: str, description: str, example: str | None = None) -> dict:
    param = {"name": name, "in": "path", "required": True, "description": description, "schema": STRING}
    if example is not None:
        param["example"] = example
    return param


def query_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


# Who may call: every client surface takes the same keys (API_KEYS / JWT_SECRET) in its clients'
# usual header; with neither set the service is open. The admin API has its own key.
CLIENT = [{"bearer": []}]
ANTHROPIC_CLIENT = [{"apiKey": []}, {"bearer": []}]
GOOGLE_CLIENT = [{"googApiKey": []}, {"keyQuery": []}, {"bearer": []}]
ADMIN = [{"adminKey": []}]
METRICS = [{"metricsKey": []}, {}]  # METRICS_KEY, or none where METRICS_ALLOW alone admits the address
PUBLIC: list = []

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "One of API_KEYS, or an HS256 token signed with JWT_SECRET (header API_KEY_HEADER, "
                              "Authorization by default). No key needed while neither is set."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "Anthropic's key header"},
    "googApiKey": {"type": "apiKey", "in": "header", "name": "x-goog-api-key", "description": "Google's key header"},
    "keyQuery": {"type": "apiKey", "in": "query", "name": "key", "description": "Google's ?key= parameter"},
    "adminKey": {"type": "http", "scheme": "bearer", "description": "ADMIN_KEY (the admin API answers 404 while unset)"},
    "metricsKey": {"type": "http", "scheme": "bearer", "description": "METRICS_KEY"},
}

HEADERS = {
    "RequestId": {"description": "the request's id (the client's own X-Request-Id when sane)", "schema": STRING},
    "RetryAfter": {"description": "seconds to wait before trying again (429, 503, 529)", "schema": STRING},
}
