"""OpenAI's Responses API: create, retrieve, delete, input items (app/responses/)."""
from .schema import (ANY_OBJECT, BOOLEAN, CLIENT, INTEGER, STRING, answer, array, body, errors, nullable, obj,
                     operation, path_param, query_param, ref, sse_event)

TAG = "Responses"

SCHEMAS = {
    "ResponseRequest": obj({
        "model": STRING, "input": {"description": "a string, or a list of input items (messages, function_call, "
                                                  "function_call_output, reasoning)"},
        "instructions": nullable(STRING), "stream": BOOLEAN, "store": BOOLEAN,
        "previous_response_id": nullable(STRING), "max_output_tokens": nullable(INTEGER),
        "tools": array(ANY_OBJECT), "tool_choice": {}, "parallel_tool_calls": BOOLEAN, "text": ANY_OBJECT,
        "reasoning": nullable(ANY_OBJECT), "metadata": nullable(ANY_OBJECT), "temperature": {}, "top_p": {},
        "truncation": {}, "user": {}, "include": {},
    }, ("model",), description="Unknown fields are accepted and ignored"),
    "Response": obj({
        "id": STRING, "object": {"const": "response"}, "created_at": INTEGER,
        "status": {"enum": ["completed", "incomplete", "failed", "in_progress"]},
        "error": nullable(ANY_OBJECT), "incomplete_details": nullable(ANY_OBJECT), "model": STRING,
        "output": array(obj({"type": STRING}, ("type",))), "usage": nullable(ANY_OBJECT),
    }, ("id", "object", "created_at", "status", "model", "output")),
    "ResponseStream": sse_event("events named as the API names them (response.created … response.completed / "
                                "response.incomplete, or error + response.failed), each with its sequence_number",
                                data=obj({"type": STRING, "sequence_number": INTEGER}, ("type", "sequence_number"))),
    "ResponseDeleted": obj({"id": STRING, "object": {"const": "response.deleted"}, "deleted": {"const": True}},
                           ("id", "object", "deleted")),
    "InputItemList": obj({"object": {"const": "list"}, "data": array(ANY_OBJECT), "first_id": nullable(STRING),
                          "last_id": nullable(STRING), "has_more": BOOLEAN},
                         ("object", "data", "first_id", "last_id", "has_more")),
}

_ID = path_param("response_id", "a stored response's id (resp_…)")
_STORED_ERRORS = errors("OpenAIError", (400, 401, 404, 429, 500, 503))


def paths() -> dict:
    return {
        "/v1/responses": {"post": operation(
            "Create a response", TAG, security=CLIENT, request=body(ref("ResponseRequest"), examples=(
                {"model": "gemini-2.5-flash", "input": "Hello"},
                {"model": "gemini-2.5-flash", "input": "Hello", "stream": True})),
            responses={"200": answer("the Response, or its events with stream: true", ref("Response"),
                                     stream=ref("ResponseStream")), **errors("OpenAIError")})},
        "/v1/responses/{response_id}": {
            "get": operation("Retrieve a stored response", TAG, security=CLIENT, parameters=[_ID],
                             responses={"200": answer("the Response", ref("Response")), **_STORED_ERRORS}),
            "delete": operation("Delete a stored response", TAG, security=CLIENT, parameters=[_ID],
                                responses={"200": answer("deleted", ref("ResponseDeleted")), **_STORED_ERRORS}),
        },
        "/v1/responses/{response_id}/input_items": {"get": operation(
            "List a stored response's input items", TAG, security=CLIENT,
            parameters=[_ID, query_param("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
                        query_param("order", {"enum": ["asc", "desc"]}, "order (desc by default)"),
                        query_param("after", STRING, "an item id: the page starts after it")],
            responses={"200": answer("a page of items", ref("InputItemList")), **_STORED_ERRORS})},
    }
