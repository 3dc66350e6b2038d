"""docs/protocol.md shows the headers the client really sends, in its order, value for value."""
import re
from pathlib import Path

from app.upstream.identity import Footprint

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def header_block(heading: str) -> list[tuple[str, str]]:
    section = DOC.split(heading, 1)[1]
    block = re.search(r"```http\n(.*?)```", section, re.S).group(1)
    lines = block.strip().splitlines()[1:]  # after the request line
    return [tuple(part.strip() for part in line.split(":", 1)) for line in lines]


def test_the_documented_getoxsrf_headers_are_the_ones_sent():
    cookie = "__Secure-C_SES=<secure_c_ses>; __Host-C_OSES=<host_c_oses>"
    assert header_block("### 3.1 getoxsrf") == list(Footprint().getoxsrf_headers(cookie).items())


def test_the_documented_widget_headers_are_the_ones_sent():
    assert header_block("### 3.2 Headers of every widget call") == list(Footprint().widget_headers("<jwt>").items())


def test_the_documented_jwt_payload_is_the_one_signed():
    assert ('{"iss":"https://business.gemini.google","aud":"https://biz-discoveryengine.googleapis.com",'
            '"sub":"csesidx/<csesidx>","iat":<now>,"exp":<now+300>,"nbf":<now>}') in DOC
    assert list(Footprint().claims("1", 0)) == ["iss", "aud", "sub", "iat", "exp", "nbf"]


def test_the_documented_download_headers_are_the_ones_sent():
    assert header_block("### 3.8 downloadFile") == list(Footprint().download_headers("<jwt>").items())
