"""Type checks for the fields of a JSON request body, shared by every request parser of the
OpenAI-shaped surfaces (chat, images, Responses, Anthropic's Messages): a wrong type is a 400
naming the field's `param`, with the code OpenAI uses (`invalid_type`)."""
from __future__ import annotations

from typing import Iterator

from ..errors import ApiError, bad_request

_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
               list: "an array", dict: "an object"}


def expect(value, kind: type, param: str):
    """`value` itself if it is a `kind` (a bool is not a number, an int is a float), else a 400."""
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise ApiError(400, f"{param} must be {_TYPE_NAMES[kind]}", param=param, code="invalid_type")
    return value


def optional(container: dict, name: str, kind: type, param: str | None = None):
    """The field `name` of `container` checked as a `kind`, or None when absent or null."""
    value = container.get(name)
    return None if value is None else expect(value, kind, param or name)


def required_text(container: dict, name: str, missing: str | None = None) -> str:
    """The field `name`: present (else a 400 `missing`, the surface's own words), a string, not blank."""
    value = container.get(name)
    if value is None:
        raise bad_request(missing or f"you must provide a {name} parameter", name, "missing_required_parameter")
    expect(value, str, name)
    if not value.strip():
        raise bad_request(f"{name} must not be empty", name)
    return value


def messages_array(value, roles: tuple[str, ...], missing: str, empty: str) -> Iterator[tuple[str, dict, str]]:
    """Each item of a `messages` array as (its param, the item, its role): the array present (else
    a 400 `missing`, the surface's own words), not empty (else `empty`), each item an object with
    one of `roles`. A generator: an item is checked when its turn comes, so the first error in the
    array is the one reported, whether it is a role or the content the caller checks."""
    if value is None:
        raise bad_request(missing, "messages", "missing_required_parameter")
    expect(value, list, "messages")
    if not value:
        raise bad_request(empty, "messages")
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        expect(message, dict, where)
        role = message.get("role")
        if role not in roles:
            raise bad_request(f"{where}.role must be one of {', '.join(roles)}", f"{where}.role")
        yield where, message, role
