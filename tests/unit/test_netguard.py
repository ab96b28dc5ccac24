"""URL sources may reach public hosts only (unless an operator allows private ones)."""

from __future__ import annotations

import ipaddress

import pytest

from mediajobs.errors import ForbiddenSource, InvalidRequest
from mediajobs.netguard import (
    check_public_host,
    embedded_ipv4,
    is_public,
    literal_host_is_private,
    refuse_private_literal,
    resolve_checked,
)

NON_PUBLIC = [
    "127.0.0.1", "::1", "[::1]", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "fd00::1", "fe80::1", "localhost", "LOCALHOST.", "api.localhost", "224.0.0.1",
    # IPv6 forms that carry a non-public IPv4 address
    "::ffff:127.0.0.1", "[::ffff:7f00:1]", "64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.0.0.1", "64:ff9b:1::8.8.8.8", "2002:7f00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "::127.0.0.1", "::ffff:0:127.0.0.1", "2001:db8::5efe:7f00:1",
    "2606:4700::200:5efe:a00:1",
    # legacy IPv4 spellings the C resolver accepts
    "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1",
]  # fmt: skip


@pytest.mark.parametrize("host", NON_PUBLIC)
def test_non_public_hosts_are_recognised(host: str) -> None:
    assert literal_host_is_private(host)
    with pytest.raises(ForbiddenSource):
        check_public_host(host)
    with pytest.raises(InvalidRequest) as caught:
        refuse_private_literal(host)
    assert caught.value.code == "forbidden_source"


@pytest.mark.parametrize(
    "host", ["93.184.216.34", "2606:4700::1111", "64:ff9b::8.8.8.8", "2002:808:808::1", "media.example.com"]
)
def test_public_hosts_pass_the_literal_check(host: str) -> None:
    assert not literal_host_is_private(host)
    refuse_private_literal(host)


def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_embeds() -> None:
    nat64 = ipaddress.IPv6Address("64:ff9b::7f00:1")
    assert nat64.is_global  # what the standard library alone would conclude
    assert embedded_ipv4(nat64) == [ipaddress.IPv4Address("127.0.0.1")]
    assert not is_public(nat64)
    assert embedded_ipv4(ipaddress.IPv6Address("2002:7f00:1::1")) == [ipaddress.IPv4Address("127.0.0.1")]
    assert is_public(ipaddress.IPv6Address("64:ff9b::808:808"))


def test_resolution_is_checked_address_by_address(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"mixed.example": ["93.184.216.34", "64:ff9b::7f00:1"], "fine.example": ["93.184.216.34"]}
    monkeypatch.setattr("mediajobs.netguard.resolve_host", lambda host, port: answers[host])

    with pytest.raises(ForbiddenSource, match="64:ff9b::7f00:1"):
        resolve_checked("mixed.example", 80)
    assert [str(a) for a in resolve_checked("fine.example", 80)] == ["93.184.216.34"]
    assert len(resolve_checked("mixed.example", 80, allow_private=True)) == 2
