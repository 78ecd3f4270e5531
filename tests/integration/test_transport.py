"""Transport and message-level rules: TCP framing and pipelining (RFC 7766),
IPv6, malformed queries, opcodes, zone transfer requests."""

import socket
import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from conftest import Asker, check_reply
from sovtest.dnsclient import (NoReply, Proto, make_query, mixcase, parse, rrsets, tcp_connect, tcp_raw,
                       tcp_read_msg, udp_raw)

FORMERR, NOTIMP, REFUSED = dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.REFUSED
SILENCE_WAIT_S = 0.5  # how long "no reply" is waited for: loopback replies take < 5 ms


@pytest.fixture(params=["udp", "tcp"])
def transport(request):
    return request.param


def send(server, transport, data: bytes, timeout=2.0) -> bytes:
    return udp_raw(server.target, data, timeout) if transport == "udp" else \
        tcp_raw(server.target, data, timeout)


def header(qid=0x4242, flags=0, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name="wWw.ExAmple.TEST", rdtype=1, rdclass=1) -> bytes:
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)


OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def reply_header(raw: bytes):
    """(id, QR, opcode, rcode, qdcount) straight from the wire: dnspython cannot
    parse replies with unassigned opcodes."""
    assert len(raw) >= 12, f"reply of {len(raw)} bytes"
    qid, flags, qd = struct.unpack("!HHH", raw[:6])
    return qid, bool(flags & 0x8000), (flags >> 11) & 0xF, flags & 0xF, qd


def assert_question_echo(raw: bytes, sent_question: bytes):
    """If the reply has a question, it is byte-for-byte the one sent."""
    _, _, _, _, qd = reply_header(raw)
    if qd:
        assert qd == 1
        assert raw[12:12 + len(sent_question)] == sent_question, "question not echoed exactly"


# --- TCP ---------------------------------------------------------------------------

def test_tcp_pipelining(server, zd):
    # RFC 7766 §6.2.1.1: queries sent back to back on one connection are all
    # answered; replies may come in any order, matched by id.
    names = ["www.example.test", "pay.example.test", "mail.example.test", "relay.example.test",
             "ns1.example.test", "ns2.example.test", "chat.example.test", "git.apps.example.test",
             "c3.edge.test", "host.edge.test"]
    queries = {}
    wire = b""
    for i, n in enumerate(names):
        q = make_query(mixcase(n), "A", edns=i % 2 == 0, qid=1000 + i)
        queries[q.id] = (q, n)
        w = q.to_wire()
        wire += struct.pack("!H", len(w)) + w
    with tcp_connect(server.target) as s:
        s.sendall(wire)  # one write
        deadline = time.monotonic() + 5
        for _ in names:
            raw = tcp_read_msg(s, deadline)
            r = parse(raw)
            assert r.id in queries, f"reply with unknown id {r.id}"
            q, n = queries.pop(r.id)
            check_reply(q, r, len(raw), "tcp", server.advertised_payload)
            assert rrsets(r.answer) == zd.rrset(n, "A")
    assert not queries


def test_tcp_message_split_across_writes(server, zd):
    q = make_query(mixcase("www.example.test"), "A", qid=77)
    w = q.to_wire()
    with tcp_connect(server.target) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for chunk in (struct.pack("!H", len(w))[:1], struct.pack("!H", len(w))[1:], w[:5], w[5:]):
            s.sendall(chunk)
            time.sleep(0.02)  # let each chunk travel as its own segment
        raw = tcp_read_msg(s, time.monotonic() + 2)
    r = parse(raw)
    check_reply(q, r, len(raw), "tcp", server.advertised_payload)
    assert rrsets(r.answer) == zd.rrset("www.example.test", "A")


def test_tcp_connection_reused_sequentially(server, zd):
    with tcp_connect(server.target) as s:
        for i, n in enumerate(["www.example.test", "pay.example.test", "c3.edge.test"]):
            q = make_query(mixcase(n), "A", qid=500 + i)
            w = q.to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
            raw = tcp_read_msg(s, time.monotonic() + 2)
            r = parse(raw)
            check_reply(q, r, len(raw), "tcp", server.advertised_payload)
            assert rrsets(r.answer) == zd.rrset(n, "A")


def test_ipv6_listener(server, zd):
    if not getattr(server, "ipv6", False):
        pytest.skip("server not listening on ::1 here")
    for t in ("udp", "tcp"):
        q = make_query(mixcase("www.example.test"), "AAAA", edns=True)
        raw = udp_raw(("::1", server.port), q.to_wire()) if t == "udp" else \
            tcp_raw(("::1", server.port), q.to_wire())
        r = parse(raw)
        check_reply(q, r, len(raw), t, server.advertised_payload)
        assert rrsets(r.answer) == zd.rrset("www.example.test", "AAAA")


# --- malformed queries ---------------------------------------------------------------

Q = question()

FORMERR_CASES = {
    # name: (wire, peers that answer otherwise)
    "arcount-without-record": (header(ar=1) + Q, ()),
    "ancount-without-record": (header(an=1) + Q, ()),
    "nscount-without-record": (header(ns=1) + Q, ()),
    "two-opt-records": (header(ar=2) + Q + OPT + OPT, ()),
    "truncated-opt": (header(ar=1) + Q + OPT[:7], ()),
    "trailing-garbage": (header() + Q + b"\x00\x01\x02", ("nsd",)),
    "two-questions": (header(qd=2) + Q + question("pay.example.test"), ("knot",)),
    "no-question": (header(qd=0), ("nsd/tcp",)),
}


def per_transport(cases: dict):
    """pytest params (case, transport); a peer listed as "kind" differs on both
    transports, "kind/udp" or "kind/tcp" on one."""
    out = []
    for case, (_, peers) in cases.items():
        for t in ("udp", "tcp"):
            kinds = [p.split("/")[0] for p in peers if "/" not in p or p.endswith("/" + t)]
            marks = [pytest.mark.peer_differs(*kinds, reason="answers otherwise")] if kinds else []
            out.append(pytest.param(case, t, id=f"{t}-{case}", marks=marks))
    return out


@pytest.mark.parametrize("case,transport", per_transport(FORMERR_CASES))
def test_formerr(server, transport, case):
    data = FORMERR_CASES[case][0]
    raw = send(server, transport, data)
    qid, qr, opcode, rcode, _ = reply_header(raw)
    assert (qid, qr, opcode) == (0x4242, True, 0)
    assert rcode == FORMERR, f"rcode {dns.rcode.to_text(rcode)}"
    assert_question_echo(raw, Q)
    # no answer data in a FORMERR
    assert struct.unpack("!HH", raw[6:10]) == (0, 0)


@pytest.mark.parametrize("data", [
    header() + dns.name.from_text("www.example.test").to_wire() + b"\x00",  # qtype cut
    header() + b"\x03www\x07exam",                                           # qname cut
    header() + b"\x41abc\x00" + struct.pack("!HH", 1, 1),                    # label type 01
    header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1),                       # pointer loop
    header() + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63 + b"\x3f"
    + b"d" * 63 + b"\x00" + struct.pack("!HH", 1, 1),                        # name > 255
], ids=["qtype-cut", "qname-cut", "bad-label-type", "pointer-loop", "name-too-long"])
def test_unparsable_question_formerr_or_silence(server, transport, data):
    # Documented: FORMERR with no question (NSD) or silence (Knot) are both fine.
    try:
        raw = send(server, transport, data, timeout=SILENCE_WAIT_S)
    except NoReply:
        raw = None
    if raw is not None:
        qid, qr, _, rcode, qd = reply_header(raw)
        assert (qid, qr, rcode, qd) == (0x4242, True, FORMERR, 0)
    assert_still_answers(server)


def assert_still_answers(server):
    r = Asker(server, Proto("udp", False))("www.example.test", "A")
    assert r.rcode() == dns.rcode.NOERROR


def test_runts_and_responses_get_no_reply_over_udp(server):
    bad = [b""] + [header()[:n] for n in range(1, 12)]  # runts: shorter than a header
    bad.append(header(flags=0x8000) + Q)                  # QR=1: a response, not a query
    bad.append(header(flags=0x8000 | 0x0400) + Q)         # QR=1, AA
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(server.target)
        for b in bad:
            s.send(b)
        s.settimeout(SILENCE_WAIT_S)
        try:
            got = s.recv(65535)
        except socket.timeout:
            got = None
        assert got is None, f"reply to a runt or a response: {got.hex()}"
        # the same socket still gets answers: silence was not a dead server
        good = make_query("www.example.test", "A", qid=4343).to_wire()
        s.settimeout(2)
        s.send(good)
        assert reply_header(s.recv(65535))[0] == 4343


@pytest.mark.parametrize("bad", [header()[:5], header(flags=0x8000) + Q],
                         ids=["runt", "qr-set"])
def test_runts_and_responses_get_no_reply_over_tcp(server, bad):
    # Either the connection is closed, or the bad message is skipped and the
    # next query on the connection is answered; never a reply to the bad one.
    good = make_query("www.example.test", "A", qid=4444).to_wire()
    with tcp_connect(server.target) as s:
        s.sendall(struct.pack("!H", len(bad)) + bad + struct.pack("!H", len(good)) + good)
        try:
            raw = tcp_read_msg(s, time.monotonic() + 2)
        except NoReply as e:
            assert "closed" in str(e) or "reset" in str(e), f"neither closed nor answered: {e}"
            raw = None
    if raw is not None:
        assert reply_header(raw)[0] == 4444, "replied to the bad message"
    assert_still_answers(server)


# --- opcodes ----------------------------------------------------------------------------

OPCODES = [
    (1, "IQUERY", ()), (2, "STATUS", ()), (3, "unassigned-3", ()),
    (6, "DSO", ()),
    (15, "unassigned-15", ()),
]


@pytest.mark.parametrize("opcode", [
    pytest.param(op, id=name, marks=pytest.mark.peer_differs(*peers, reason="not NOTIMP"))
    if peers else pytest.param(op, id=name) for op, name, peers in OPCODES])
def test_other_opcodes_not_implemented(server, transport, opcode):
    q = question("example.test", 6)
    raw = send(server, transport, header(flags=opcode << 11) + q)
    qid, qr, op, rcode, _ = reply_header(raw)
    assert (qid, qr) == (0x4242, True)
    assert op == opcode, "opcode not copied"
    assert rcode == NOTIMP, f"rcode {dns.rcode.to_text(rcode)}"
    assert_question_echo(raw, q)


@pytest.mark.peer_differs("knot", reason="NOTAUTH")
def test_notify_of_a_primary_zone_refused(server, transport):
    """NOTIFY (RFC 1996) is for secondaries: of a zone we are primary of, REFUSED
    with the opcode copied and the question echoed."""
    q = question("example.test", 6)
    raw = send(server, transport, header(flags=4 << 11) + q)
    qid, qr, op, rcode, _ = reply_header(raw)
    assert (qid, qr, op) == (0x4242, True, 4)
    assert rcode == dns.rcode.REFUSED, f"rcode {dns.rcode.to_text(rcode)}"
    assert_question_echo(raw, q)


# --- zone transfers: not offered (yet) -------------------------------------------------

def xfr_query(rdtype):
    q = make_query(mixcase("example.test"), rdtype, qid=0x5151)
    if rdtype == "IXFR":  # RFC 1995 §3: the client's SOA in the authority section
        q.authority.append(dns.rrset.from_text("example.test.", 0, "IN", "SOA",
                                               ". . 2024010101 0 0 0 0"))
    return q


@pytest.mark.peer_differs("knot", reason="Knot answers NOTAUTH (transfer not allowed by ACL)")
@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_xfr_over_tcp_refused(server, rdtype):
    q = xfr_query(rdtype)
    r = parse(tcp_raw(server.target, q.to_wire()))
    assert r.rcode() == REFUSED, dns.rcode.to_text(r.rcode())
    assert not r.answer
    assert r.question[0].name.labels == q.question[0].name.labels


@pytest.mark.peer_differs("knot", reason="Knot answers NOTAUTH (transfer not allowed by ACL)")
def test_ixfr_over_udp_refused(server):
    q = xfr_query("IXFR")
    r = parse(udp_raw(server.target, q.to_wire()))
    assert r.rcode() == REFUSED, dns.rcode.to_text(r.rcode())
    assert not r.answer


def test_axfr_over_udp_refused_or_notimp(server):
    # AXFR is TCP-only (RFC 5936 §4.2); Knot and NSD answer NOTIMP, we allow REFUSED too.
    q = xfr_query("AXFR")
    r = parse(udp_raw(server.target, q.to_wire()))
    assert r.rcode() in (REFUSED, NOTIMP), dns.rcode.to_text(r.rcode())
    assert not r.answer
