"""Response rate limiting on UDP (docs/dns-behaviour.md, "Rate limiting"):
past `responses_per_second` replies per client network and category in one
second, replies are dropped except every `slip`-th, sent empty with TC=1;
TCP and clients with a valid DNS Cookie (RFC 7873) are never limited."""
import socket
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import pytest

from sovtest.servers import SUITE_ZONES

pytestmark = pytest.mark.sovdns_only

RATE = 10
BURST = 80


def burst(addr, port, make_query, count=BURST):
    """Sends `count` queries back to back on one UDP socket, then collects
    replies for a bounded time. Returns (full answers, truncated, missing)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    sent = {}
    for i in range(count):
        q = make_query()
        q.id = i + 1
        sent[q.id] = q
        s.sendto(q.to_wire(), (addr, port))
    full = tc = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and full + tc < count:
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            break
        r = dns.message.from_wire(data)
        if r.flags & dns.flags.TC:
            assert not r.answer, "a slipped reply carries no answer"
            tc += 1
        else:
            assert r.answer, "a full reply to www A has an answer"
            full += 1
    s.close()
    return full, tc, count - full - tc


@pytest.fixture
def limited(spawn):
    return spawn(SUITE_ZONES, config_mode=True,
                 config_extra={"rrl": {"responses_per_second": RATE, "slip": 2}})


def test_rrl_limits_and_slips_within_one_second(limited):
    addr, port = limited.addr, limited.port
    full, tc, missing = burst(addr, port, lambda: dns.message.make_query("www.example.test", "A"))
    # A burst may straddle a second boundary: allow up to two windows of full answers.
    # (the harness's readiness query may already count in the first second)
    assert RATE - 2 <= full <= 2 * RATE, (full, tc, missing)
    assert tc > 0 and missing > 0, (full, tc, missing)
    # slip 2: about every other limited reply is truncated
    assert abs(tc - missing) <= RATE + 2, (full, tc, missing)


def test_rrl_spares_tcp_and_valid_cookies(limited):
    addr, port = limited.addr, limited.port
    for _ in range(3 * RATE):
        r = dns.query.tcp(dns.message.make_query("www.example.test", "A"), addr, port=port, timeout=2)
        assert r.answer and not r.flags & dns.flags.TC
    # Learn a server cookie once, then a burst that presents it is never limited.
    client = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    q = dns.message.make_query("www.example.test", "A", use_edns=0,
                               options=[dns.edns.GenericOption(dns.edns.COOKIE, client)])
    r = dns.query.tcp(q, addr, port=port, timeout=2)
    cookie = [o for o in r.options if o.otype == dns.edns.COOKIE][0].data
    assert cookie[:8] == client and len(cookie) == 24
    full, tc, missing = burst(addr, port, lambda: dns.message.make_query(
        "www.example.test", "A", use_edns=0,
        options=[dns.edns.GenericOption(dns.edns.COOKIE, cookie)]))
    assert (full, tc, missing) == (BURST, 0, 0)


def test_rrl_off_by_default(spawn):
    srv = spawn(SUITE_ZONES)
    full, tc, missing = burst(srv.addr, srv.port, lambda: dns.message.make_query("www.example.test", "A"))
    assert (tc, missing) == (0, 0), (full, tc, missing)
