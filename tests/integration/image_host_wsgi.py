"""wsgi.py where one test hostname, IMAGE_HOST, reaches the tests' image server on 127.0.0.1,
so a chat can name an http(s) image URL the gateway really downloads (tests/integration/
test_files_in.py). Only tests start it:

    Gunicorn(env, app="tests.integration.image_host_wsgi:app")

The SSRF guard (app/fetch_url.py) stays on for everything else: IMAGE_HOST, a name no DNS
knows (.invalid, RFC 6761), resolves to 127.0.0.1 and may connect to exactly that address
(https: checked against the test's own CA, IMAGE_HOST_CA, a certificate for IMAGE_HOST);
every other URL, hop and redirect target meets the production rule, so `http://127.0.0.1/...`
written by a client, or a redirect from IMAGE_HOST to it, is still refused. It goes through the
Fetcher's own test hooks (`resolve`, `address_allowed`); production builds `Fetcher()` with the
defaults and no setting or request reaches them. Should this wiring stop applying (a renamed
method, a route that no longer calls `fetch_url.fetch`), IMAGE_HOST is refused or unresolved
and the tests fail: the hook fails closed.
"""
import os
from urllib.parse import urlsplit

from app import create_app, fetch_url, start_background
from tests.integration.image_host import IMAGE_HOST
IMAGE_ADDRESS = fetch_url.literal_address("127.0.0.1")


def resolve(host: str, port: int) -> list[str]:
    return [str(IMAGE_ADDRESS)] if host == IMAGE_HOST else fetch_url.system_resolve(host, port)


class ImageHostFetcher(fetch_url.Fetcher):
    """A Fetcher per fetch, as production builds them; each hop is checked by `_check`, and only
    a hop naming IMAGE_HOST may reach IMAGE_ADDRESS (and nothing else)."""

    def _check(self, url: str, deadline: float):
        image_host = (urlsplit(url.strip()).hostname or "").lower() == IMAGE_HOST
        self.address_allowed = (lambda a: a == IMAGE_ADDRESS) if image_host else fetch_url.public_address
        return super()._check(url, deadline)


def fetch(url, allowed_types, *, max_bytes, timeout=fetch_url.DEFAULT_TIMEOUT):
    return ImageHostFetcher(max_bytes=max_bytes, timeout=timeout, resolve=resolve,
                            ca_certs=os.environ["IMAGE_HOST_CA"]).fetch(url, allowed_types)


fetch_url.fetch = fetch
app = create_app()
start_background(app)
