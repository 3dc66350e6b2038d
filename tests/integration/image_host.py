"""The test-only image host name (see image_host_wsgi.py), in a module of its own: importing
image_host_wsgi builds an app and replaces app.fetch_url.fetch in the importing process, so a
test module that only needs the name must not import it (it would turn the SSRF guard off for
every other test run in the same pytest process, e.g. tests/unit/test_inputs.py)."""

IMAGE_HOST = "images.gateway-test.invalid"  # .invalid: a name no DNS knows (RFC 6761)
