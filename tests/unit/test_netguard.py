"""URL sources may reach public hosts only (unless an operator allows private ones)."""

from __future__ import annotations

import httpx
import pytest

from mediajobs.errors import ForbiddenSource, InvalidRequest
from mediajobs.netguard import check_public_host, literal_host_is_private, refuse_private_literal
from mediajobs.stages.ingest import _only_public_hosts


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "::1", "[::1]", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "fd00::1", "fe80::1", "localhost", "LOCALHOST.", "api.localhost", "224.0.0.1"],
)  # fmt: skip
def test_non_public_hosts_are_recognised(host: str) -> None:
    assert literal_host_is_private(host)
    with pytest.raises(ForbiddenSource):
        check_public_host(host)
    with pytest.raises(InvalidRequest) as caught:
        refuse_private_literal(host)
    assert caught.value.code == "forbidden_source"


@pytest.mark.parametrize("host", ["93.184.216.34", "2606:4700::1111", "media.example.com"])
def test_public_hosts_pass_the_literal_check(host: str) -> None:
    assert not literal_host_is_private(host)
    refuse_private_literal(host)


def test_every_request_of_a_download_is_checked_redirects_included() -> None:
    with pytest.raises(ForbiddenSource):
        _only_public_hosts(httpx.Request("GET", "http://169.254.169.254/latest/meta-data/"))
    _only_public_hosts(httpx.Request("GET", "http://93.184.216.34/talk.mp3"))  # no DNS needed for a literal
