"""Strict checks of what a client sends, so a regression in the proxy's requests fails tests.

The protocol notes say these must be exact (upstream-protocol.md §3.3, §4, §5.0, §5.2); the
real service is not known to check all of them, so each group has a switch to relax it:

- strict_jwt: the JWT's bytes: compact JSON, header keys alg, typ, kid and payload keys
  iss, aud, sub, iat, exp, nbf in that order, integer times, exp - iat == 300, nbf == iat.
- strict_envelope: `additionalParams` is exactly {"token": "-"}.
- strict_assist: the streamAssistRequest constants and the toolsSpec shape.
- strict_headers: origin/referer, and a consistent browser: a Chrome user agent whose
  version the client hints repeat, Chrome's accept-encoding, an accept-language without
  repeated tags, and the fetch metadata a browser sends with its hints.

The JWT rules live with the bearer check (tokens.jwt_problem); a failed one is a 401 like
any bad bearer. The others are 400s whose message names the rule, noted in the request log
under "footprint".
"""

from __future__ import annotations

import json
import re

from .errors import GoogleError
from .state import note

CHROME_ENCODING = "gzip, deflate, br, zstd"
TOOLS = ("webGroundingSpec", "toolRegistry", "imageGenerationSpec", "videoGenerationSpec")
ASSIST_CONSTANTS = {"filter": "", "answerGenerationMode": "NORMAL",
                    "assistSkippingMode": "REQUEST_ASSIST"}
_CHROME = re.compile(r"Chrome/(\d+)\.0\.0\.0 ")
_LANGUAGE = re.compile(r"^([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)(?:;q=(0(?:\.\d{1,3})?|1(?:\.0{1,3})?))?$")


class FootprintError(GoogleError):
    def __init__(self, rule: str):
        note(footprint=rule)
        super().__init__(400, f"Request does not look like the web app's: {rule}.")


def check_envelope(body: dict) -> None:
    if body.get("additionalParams") != {"token": "-"}:
        raise FootprintError('additionalParams must be {"token": "-"}')


def check_assist(inner: dict) -> None:
    for name, value in ASSIST_CONSTANTS.items():
        if inner.get(name) != value:
            raise FootprintError(f"streamAssistRequest.{name} must be {value!r}")
    tools = inner.get("toolsSpec")
    if not isinstance(tools, dict) or not tools or any(k not in TOOLS for k in tools):
        raise FootprintError(f"toolsSpec must be an object of some of {', '.join(TOOLS)}")
    for name, value in tools.items():
        expected = "default_tool_registry" if name == "toolRegistry" else {}
        if value != expected:
            raise FootprintError(f"toolsSpec.{name} must be {json.dumps(expected)}")
    if not isinstance(inner.get("languageCode"), str) or not isinstance(
            (inner.get("userMetadata") or {}).get("timeZone"), str):
        raise FootprintError("languageCode and userMetadata.timeZone must be strings")


def language_problem(value: str | None) -> str | None:
    if not value:
        return "accept-language is missing"
    seen, last_q = set(), 1.0
    for index, item in enumerate(part.strip() for part in value.split(",")):
        match = _LANGUAGE.match(item)
        if match is None:
            return f"accept-language has a malformed entry {item!r}"
        tag, q = match.group(1).lower(), float(match.group(2) or 1)
        if tag in seen:
            return f"accept-language repeats {tag!r}"
        if (index == 0) != (match.group(2) is None) or q > last_q:
            return "accept-language q values must fall after a first entry without one"
        seen.add(tag)
        last_q = q
    return None


def _browser_problem(headers) -> str | None:
    chrome = _CHROME.search(headers.get("user-agent", ""))
    if chrome is None:
        return "user-agent must be a desktop Chrome's"
    major = chrome.group(1)
    hints = headers.get("sec-ch-ua", "")
    if f'"Google Chrome";v="{major}"' not in hints or f'"Chromium";v="{major}"' not in hints:
        return f"sec-ch-ua must name Chrome {major}, as the user-agent does"
    if not headers.get("sec-ch-ua-mobile") or not headers.get("sec-ch-ua-platform"):
        return "sec-ch-ua-mobile and sec-ch-ua-platform must come with sec-ch-ua"
    if headers.get("accept-encoding") != CHROME_ENCODING:
        return f"accept-encoding must be Chrome's {CHROME_ENCODING!r}"
    return language_problem(headers.get("accept-language"))


def _fetch_problem(headers, origin: str, site: str) -> str | None:
    if headers.get("origin") != origin:
        return f"origin must be {origin}"
    if headers.get("referer") != origin + "/":
        return f"referer must be {origin}/"
    wanted = {"sec-fetch-site": site, "sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}
    for name, value in wanted.items():
        if headers.get(name) != value:
            return f"{name} must be {value}"
    return None


def check_headers(headers, origin: str, verb: str) -> None:
    """getoxsrf is a same-site fetch from the web app, widget calls (and downloadFile) a
    cross-site one (§3.1, §4); only widget calls (POSTs) carry a JSON body."""
    site = "same-site" if verb == "getoxsrf" else "cross-site"
    problem = _fetch_problem(headers, origin, site) or _browser_problem(headers)
    if problem is None and verb.startswith("widget") and not headers.get(
            "content-type", "").startswith("application/json"):
        problem = "content-type must be application/json"
    if problem is not None:
        raise FootprintError(problem)
