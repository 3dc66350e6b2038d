"""Behind deploy/nginx.conf on a port that is not 80, redirects still lead back to it."""
from urllib.parse import urljoin

import pytest
import requests

from tests.servers import Nginx


@pytest.fixture(scope="module")
def nginx(open_proxy, tmp_path_factory):
    server = Nginx(open_proxy.port, tmp_path_factory.mktemp("nginx-redirects"))
    yield server
    server.stop()


@pytest.mark.parametrize("host", [None, "gateway.example:8443"])
def test_the_admin_page_redirect_keeps_the_host_and_port_the_client_used(nginx, host):
    headers = {"Host": host} if host else {}
    response = requests.get(f"{nginx.url}/admin?tab=accounts", headers=headers, allow_redirects=False, timeout=10)
    assert response.status_code in (301, 302, 307, 308)
    asked = f"http://{host or f'127.0.0.1:{nginx.port}'}/admin?tab=accounts"
    assert urljoin(asked, response.headers["Location"]) == f"http://{host or f'127.0.0.1:{nginx.port}'}/admin/?tab=accounts"


def test_the_admin_page_is_reached_by_following_the_redirect(nginx):
    response = requests.get(f"{nginx.url}/admin", timeout=10)
    assert response.status_code == 200 and response.url == f"{nginx.url}/admin/"
    assert "text/html" in response.headers["content-type"]


def test_redirects_name_a_path_so_a_tls_terminating_proxy_keeps_its_scheme(open_proxy):
    response = requests.get(f"{open_proxy.url}/admin?x=1", allow_redirects=False, timeout=10)
    assert response.status_code == 308 and response.headers["Location"] == "/admin/?x=1"


def test_a_redirect_never_becomes_protocol_relative(open_proxy):
    response = requests.get(f"{open_proxy.url}//evil.example/admin", allow_redirects=False, timeout=10)
    location = response.headers.get("Location", "")
    assert not location.startswith("//"), location
