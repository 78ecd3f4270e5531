"""EDNS(0) (RFC 6891) and message sizes / TC (RFC 1035 §4.2.1, RFC 2181 §9)."""

import dns.edns
import dns.flags
import dns.rcode
import pytest

from conftest import Asker
from sovtest.dnsclient import Proto, rrsets

BADVERS = 16
UNKNOWN_OPTION = 65001  # RFC 6891 §9: 65001-65534 are for local/experimental use


@pytest.fixture(params=["udp", "tcp"])
def ask_edns(server, request):
    return Asker(server, Proto(request.param, True))


@pytest.mark.parametrize("qname,rcode", [
    ("www.example.test", dns.rcode.NOERROR), ("nothere.example.test", dns.rcode.NXDOMAIN),
    ("www.example.org", dns.rcode.REFUSED), ("host.sub.edge.test", dns.rcode.NOERROR),
])
def test_opt_in_every_reply(ask_edns, server, qname, rcode):
    r = ask_edns(qname, "A")
    assert r.rcode() == rcode
    assert r.edns == 0 and r.payload == server.advertised_payload


@pytest.mark.parametrize("version", [1, 255])
@pytest.mark.parametrize("qname", ["www.example.test", "nothere.example.test", "www.example.org"])
def test_unknown_edns_version_gets_badvers(ask_edns, server, qname, version):
    # RFC 6891 §6.1.3: BADVERS, with an OPT of the highest version we do (0)
    r = ask_edns(qname, "A", version=version)
    assert r.rcode() == BADVERS, dns.rcode.to_text(r.rcode())
    assert r.edns == 0, f"OPT version {r.edns} in the BADVERS reply"
    assert r.payload == server.advertised_payload
    assert not r.answer and not r.authority
    assert not r.flags & dns.flags.AA
    assert len(r.question) == 1
    assert r.question[0].name.labels == r.query.question[0].name.labels


@pytest.mark.parametrize("malformed", [False, True], ids=["valid", "malformed-ecs"])
def test_badvers_reply_carries_only_our_opt(ask_edns, server, malformed):
    """RFC 6891 §6.1.3: the options of an EDNS version we do not implement are
    not processed. The BADVERS reply echoes neither ECS nor the cookie (and a
    malformed ECS under version 1 is BADVERS, not FORMERR); version 0 echoes
    both."""
    ecs = (dns.edns.GenericOption(dns.edns.ECS, b"\x00\x05\x18\x00\xc0\x00\x02") if malformed
           else dns.edns.ECSOption("192.0.2.0", 24))
    cookie = dns.edns.GenericOption(dns.edns.COOKIE, bytes(range(1, 9)))  # client cookie
    r = ask_edns("www.example.test", "A", version=1, options=[ecs, cookie])
    assert r.rcode() == BADVERS, dns.rcode.to_text(r.rcode())
    assert r.edns == 0
    assert list(r.options) == [], f"options echoed in a BADVERS reply: {r.options}"
    if not malformed:
        r = ask_edns("www.example.test", "A", options=[ecs, cookie])
        assert r.rcode() == dns.rcode.NOERROR
        assert sorted(o.otype for o in r.options) == [dns.edns.ECS, dns.edns.COOKIE]


def test_unknown_option_ignored(ask_edns, zd):
    opt = dns.edns.GenericOption(UNKNOWN_OPTION, b"\x01\x02\x03")
    r = ask_edns("www.example.test", "A", options=[opt])
    assert r.rcode() == dns.rcode.NOERROR
    assert rrsets(r.answer) == zd.rrset("www.example.test", "A")
    assert all(o.otype != UNKNOWN_OPTION for o in r.options), "unknown option echoed"


@pytest.mark.parametrize("do", [False, True], ids=["do0", "do1"])
def test_do_bit_echoed(ask_edns, zd, do):
    # RFC 3225 §3: the DO bit is copied into the reply; the zones are unsigned,
    # so the answer is the same either way.
    r = ask_edns("www.example.test", "A", do=do)
    assert bool(r.ednsflags & dns.flags.DO) == do
    assert rrsets(r.answer) == zd.rrset("www.example.test", "A")


def test_payload_below_512_counts_as_512(server, zd):
    # RFC 6891 §6.2.3: values below 512 are treated as 512
    ask = Asker(server, Proto("udp", True))
    r = ask("example.test", "NS", payload=100)
    assert r.wire_size > 100
    assert not r.flags & dns.flags.TC
    assert rrsets(r.answer) == zd.rrset("example.test", "NS")


# --- sizes and TC ---------------------------------------------------------------

def assert_truncated(r, limit):
    assert r.flags & dns.flags.TC, f"TC not set ({r.wire_size} bytes)"
    assert r.wire_size <= limit
    txt = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.TXT]
    # no partial RRset is ever given as if it were whole
    assert not txt, "a truncated reply carries part of the RRset"


def test_tc_without_edns_over_udp(server, zd):
    r = Asker(server, Proto("udp", False))("big.edge.test", "TXT")
    assert_truncated(r, 512)


def test_big_answer_fits_with_edns(server, zd):
    r = Asker(server, Proto("udp", True))("big.edge.test", "TXT")
    assert not r.flags & dns.flags.TC
    assert 512 < r.wire_size <= server.advertised_payload
    assert rrsets(r.answer) == zd.rrset("big.edge.test", "TXT")


@pytest.mark.parametrize("edns", [False, True], ids=["plain", "edns"])
@pytest.mark.parametrize("name", ["big.edge.test", "huge.edge.test"])
def test_same_query_over_tcp_is_complete(server, zd, edns, name):
    r = Asker(server, Proto("tcp", edns))(name, "TXT")
    assert not r.flags & dns.flags.TC
    assert rrsets(r.answer) == zd.rrset(name, "TXT")


@pytest.mark.parametrize("payload", [1232, 4096, 65535])
def test_tc_with_edns_when_answer_exceeds_our_payload(server, payload):
    # the UDP limit is min(client's payload, ours)
    r = Asker(server, Proto("udp", True))("huge.edge.test", "TXT", payload=payload)
    assert_truncated(r, min(payload, server.advertised_payload))


def test_client_payload_smaller_than_ours_is_respected(server):
    r = Asker(server, Proto("udp", True))("big.edge.test", "TXT", payload=600)
    assert_truncated(r, 600)


@pytest.mark.parametrize("edns", [False, pytest.param(True, marks=pytest.mark.peer_differs(
    "nsd", reason="NSD with minimal-responses gives no additional data for MX"))],
    ids=["plain", "edns"])
def test_additional_dropped_without_tc(server, zd, edns):
    # RFC 2181 §9: TC only when the answer itself does not fit; the additional
    # addresses of MX targets are dropped (whole RRsets) when they do not.
    r = Asker(server, Proto("udp", edns))("mxmany.edge.test", "MX")
    assert not r.flags & dns.flags.TC
    assert rrsets(r.answer) == zd.rrset("mxmany.edge.test", "MX")
    add = rrsets(r.additional)
    for (owner, rdtype), val in add.items():
        assert {(owner, rdtype): val} == zd.rrset(owner, rdtype), "partial RRset in additional"
    if edns:
        assert len(add) == 24, "with EDNS every target address fits"
    else:
        assert len(add) < 24
