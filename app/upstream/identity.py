"""Who we say we are to Gemini Business: the service's identities and a browser's headers.

The request set written here is documented, header by header, in docs/protocol.md
("Requests the gateway sends"); tests/unit/test_identity.py keeps the two in step.

`origin` (JWT `iss`, `origin`, `referer`) and `audience` (JWT `aud`) are identities of the
real service, not addresses: they follow GEMINI_BUSINESS_URL / API_BASE_URL only when those
name a Google host (so the vertexaisearch.cloud.google / content-discoveryengine pair works
by setting the URLs), and stay the real service's when the URLs point at a simulator
(upstream-protocol.md §1, §14). UPSTREAM_ORIGIN / UPSTREAM_AUDIENCE override both.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.util.request import ACCEPT_ENCODING

DEFAULT_ORIGIN = "https://business.gemini.google"
DEFAULT_AUDIENCE = "https://biz-discoveryengine.googleapis.com"
DEFAULT_CHROME_VERSION = 155  # Chrome stable in 2026-12 (a 4-week release train: 143 in 2025-12)
GOOGLE_DOMAINS = (".google", ".googleapis.com", ".google.com")
JWT_LIFETIME = 300  # seconds, exp - iat of every real token (§3.4)
TOKEN_REUSE = 270   # re-sign this long after iat, well before the upstream's exp

# What Chrome sends, in its order; we advertise only what urllib3 can decode here (it decodes
# br with the brotli package and zstd with backports.zstd, both in requirements.txt).
CHROME_ENCODINGS = ("gzip", "deflate", "br", "zstd")
_DECODABLE = {part.strip() for part in ACCEPT_ENCODING.split(",")}
ACCEPT_ENCODING_SENT = ", ".join(e for e in CHROME_ENCODINGS if e in _DECODABLE)

# Chrome's "GREASE" brand: characters and versions it picks from by its major version.
_GREASE_CHARS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")
_BRAND_ORDERS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def service_identity(url: str, default: str) -> str:
    """The origin of `url` when it is a Google https host, else `default` (see module doc)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host.endswith(GOOGLE_DOMAINS):
        return f"https://{parts.netloc.lower()}"
    return default


def accept_language(language: str) -> str:
    """As Chrome builds it from a language list: `en-US` -> `en-US,en;q=0.9`, `en` -> `en`.

    Chrome adds the base language after a regional one and never repeats a tag; each later
    tag gets a q value 0.1 lower than the one before."""
    tags: list[str] = []
    for tag in (t.strip() for t in language.split(",")):
        tag = tag.split(";")[0].strip()
        for candidate in (tag, tag.split("-")[0]):
            if candidate and candidate.lower() not in (t.lower() for t in tags):
                tags.append(candidate)
    parts = [tags[0]] + [f"{tag};q={max(10 - i, 1) / 10:.1f}" for i, tag in enumerate(tags[1:], 1)]
    return ",".join(parts)


def client_hints(major: int) -> str:
    """`sec-ch-ua` exactly as Chrome `major` sends it (brands in Chrome's own order)."""
    grease = (f'"Not{_GREASE_CHARS[major % 11]}A{_GREASE_CHARS[(major + 1) % 11]}Brand"'
              f';v="{_GREASE_VERSIONS[major % 3]}"')
    brands = (grease, f'"Chromium";v="{major}"', f'"Google Chrome";v="{major}"')
    placed = [""] * 3
    for brand, slot in zip(brands, _BRAND_ORDERS[major % 6]):
        placed[slot] = brand
    return ", ".join(placed)


@dataclass(frozen=True)
class Footprint:
    origin: str = DEFAULT_ORIGIN
    audience: str = DEFAULT_AUDIENCE
    chrome: int = DEFAULT_CHROME_VERSION
    language: str = "en-US"

    @classmethod
    def from_config(cls, config) -> "Footprint":
        return cls(origin=config.upstream_origin, audience=config.upstream_audience,
                   chrome=config.upstream_chrome_version, language=config.upstream_language)

    @property
    def referer(self) -> str:
        return self.origin + "/"

    @property
    def user_agent(self) -> str:
        # Chrome's reduced user agent: only the major version is real, the rest is 0.0.0.
        return ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{self.chrome}.0.0.0 Safari/537.36")

    @functools.cached_property
    def _browser(self) -> dict[str, str]:
        """The same for every call (built once: ~10 µs a call otherwise, two calls a chat)."""
        return {
            "accept": "*/*",
            "accept-encoding": ACCEPT_ENCODING_SENT,
            "accept-language": accept_language(self.language),
            "user-agent": self.user_agent,
            "sec-ch-ua": client_hints(self.chrome),
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-platform": '"Windows"',
        }

    def widget_headers(self, bearer: str) -> dict[str, str]:
        """Headers of every widget* call (§4): a cross-site fetch from the web app."""
        return {**self._browser, "authorization": f"Bearer {bearer}", **self._widget_rest}

    @functools.cached_property
    def _widget_rest(self) -> dict[str, str]:
        """What follows the bearer in widget_headers, in its order."""
        return {
            "content-type": "application/json",
            "origin": self.origin,
            "referer": self.referer,
            "x-server-timeout": "1800",
            "sec-fetch-dest": "empty",
            "sec-fetch-mode": "cors",
            "sec-fetch-site": "cross-site",
            "priority": "u=1, i",
        }

    def download_headers(self, bearer: str) -> dict[str, str]:
        """Headers of GET downloadFile (§5.5): the widget calls' bearer and cross-site fetch
        headers, without what belongs to a JSON POST (content-type, x-server-timeout)."""
        return {name: value for name, value in self.widget_headers(bearer).items()
                if name not in ("content-type", "x-server-timeout")}

    def getoxsrf_headers(self, cookie: str) -> dict[str, str]:
        """Headers of GET /auth/getoxsrf (§3.1): the fetch headers D sends with the hints."""
        return {
            **self._browser,
            "cookie": cookie,
            "origin": self.origin,
            "referer": self.referer,
            "sec-fetch-dest": "empty",
            "sec-fetch-mode": "cors",
            "sec-fetch-site": "same-site",
            "priority": "u=1, i",
        }

    def claims(self, csesidx: str, now: int) -> dict:
        """The JWT payload, keys in the order the real token has them (§3.3)."""
        return {"iss": self.origin, "aud": self.audience, "sub": f"csesidx/{csesidx}",
                "iat": now, "exp": now + JWT_LIFETIME, "nbf": now}
