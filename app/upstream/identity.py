"""Who we say we are to Gemini Business.

These are identities of the real service and of a real browser, not addresses: they stay
the same when the URL settings point at the simulator (upstream-protocol.md §1, §4).
"""
ORIGIN = "https://business.gemini.google"
REFERER = ORIGIN + "/"
JWT_ISSUER = ORIGIN
JWT_AUDIENCE = "https://biz-discoveryengine.googleapis.com"
JWT_LIFETIME = 300  # seconds, exp - iat of every real token
TOKEN_REUSE = 270   # re-sign this long after iat, well before the upstream's exp

CHROME_MAJOR = "140"
USER_AGENT = (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/{CHROME_MAJOR}.0.0.0 Safari/537.36")
# Client hints that agree with the user agent (the sources mixed 140 and 124).
CLIENT_HINTS = {
    "sec-ch-ua": f'"Chromium";v="{CHROME_MAJOR}", "Google Chrome";v="{CHROME_MAJOR}", "Not?A_Brand";v="99"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Windows"',
}


def widget_headers(bearer: str, language: str) -> dict[str, str]:
    """Headers of every widget* call (§4). Only gzip/deflate are advertised: those are the
    encodings requests can decode without extra libraries."""
    return {
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "accept-language": f"{language},{language.split('-')[0]};q=0.9,en;q=0.8",
        "authorization": f"Bearer {bearer}",
        "content-type": "application/json",
        "origin": ORIGIN,
        "referer": REFERER,
        "user-agent": USER_AGENT,
        "x-server-timeout": "1800",
        **CLIENT_HINTS,
        "sec-fetch-dest": "empty",
        "sec-fetch-mode": "cors",
        "sec-fetch-site": "cross-site",
    }


def getoxsrf_headers(cookie: str) -> dict[str, str]:
    return {
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "cookie": cookie,
        "user-agent": USER_AGENT,
        "referer": REFERER,
        **CLIENT_HINTS,
    }
