"""Differential test: the server under test against Knot DNS (knotd) on the
same zones, over thousands of queries generated from the zone files.

Every query goes to both servers over the same transport with the same EDNS
settings and the same mixed-case qname; the replies are compared on rcode,
flags (AA, TC, RD, RA), EDNS (present, version, DO) and each section as a set
of RRsets with their TTLs. The differences a correct server may show are
listed in docs/dns-behaviour.md ("Permitted differences from Knot DNS") and
applied here as explicit normalisations, counted in the report.

Environment:
  SOVDNS_DIFF_RAW=1       compare with no normalisation at all (to survey peers)
  SOVDNS_DIFF_REPORT=PATH write the full report there (default: the test's tmp dir)
  SOVDNS_DIFF_SEED=N      seed of the generated names and types (default 4592)
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import socket
import struct
import time
from dataclasses import dataclass, field

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from conftest import KIND
from sovtest.dnsclient import NoReply, make_query, mixcase, parse, recv_exact
from sovtest.servers import SUITE_ZONES, ServerError, make_server

MIN_QUERIES = 1000
SEED = int(os.environ.get("SOVDNS_DIFF_SEED", "4592"))
RAW = os.environ.get("SOVDNS_DIFF_RAW") == "1"
CHAIN_LIMIT_MIN = 5  # fewest CNAME links a server must follow (Knot follows 5)

TYPES = ["A", "AAAA", "NS", "SOA", "MX", "TXT", "CNAME", "SRV", "CAA", "DS", "PTR", "HINFO",
         "SSHFP", "TYPE65280", "ANY"]
OUT_OF_ZONE = ["www.example.org.", "test.", ".", "example.testx.", "xexample.test.", "org.",
               "ns.example.net.", "edge.test.example.org.", "rfc4592.test.invalid."]
MODES = [("udp", False), ("udp", True), ("tcp", False), ("tcp", True)]


# --- query generation ---------------------------------------------------------------------

def load_zones(zones):
    import dns.zone
    return {dns.name.from_text(o): dns.zone.from_file(str(p), origin=o, relativize=False)
            for o, p in zones}


def generate_names(zones, rng) -> list[str]:
    names: set[dns.name.Name] = set()
    for origin, zone in zones.items():
        owners = set(zone.nodes.keys())
        ents = set()
        for n in owners:  # empty non-terminals: every ancestor up to the apex
            p = n.parent()
            while p != origin and p.is_subdomain(origin):
                if p not in owners:
                    ents.add(p)
                p = p.parent()
        names |= owners | ents
        names.add(dns.name.from_text("nx", origin))
        names.add(dns.name.from_text("nx.nx", origin))
        for e in ents:
            names.add(dns.name.from_text("nx", e))
        for n in owners:
            node = zone.nodes[n]
            first = n.labels[0]
            if first == b"*":  # wildcard matches: one and two labels, and a literal query
                names.add(dns.name.from_text(f"w{rng.randrange(1000)}", n.parent()))
                names.add(dns.name.from_text("a.b", n.parent()))
            if n != origin and node.get_rdataset(1, dns.rdatatype.NS):  # a zone cut
                names.add(dns.name.from_text("x", n))
                names.add(dns.name.from_text("a.b", n))
        leaves = sorted(o for o in owners if not any(x != o and x.is_subdomain(o) for x in owners))
        for n in rng.sample(leaves, min(6, len(leaves))):
            names.add(dns.name.from_text("below", n))
    out = sorted(n.to_text() for n in names) + OUT_OF_ZONE
    return out


@dataclass(frozen=True)
class Query:
    qname: str      # as sent (mixed case)
    qtype: str
    transport: str
    edns: bool
    do: bool
    rd: bool

    def label(self):
        mode = f"{self.transport}{'+edns' if self.edns else ''}{'+do' if self.do else ''}" \
               f"{'+rd' if self.rd else ''}"
        return f"{self.qname} {self.qtype} ({mode})"


def generate_queries(zones, seed=SEED) -> list[Query]:
    rng = random.Random(seed)
    out = []
    for name in generate_names(zones, rng):
        types = TYPES + [f"TYPE{rng.randrange(65300, 65500)}"]
        for i, t in enumerate(types):
            transport, edns = MODES[(hash_text(name) + i) % len(MODES)]
            out.append(Query(mixcase(name, rng), t, transport, edns,
                             do=edns and rng.random() < 0.3, rd=rng.random() < 0.3))
    return out


def hash_text(s: str) -> int:
    return sum(s.encode())  # stable across runs (unlike hash())


# --- sending -----------------------------------------------------------------------------------

class Client:
    """One server: a UDP socket and a TCP connection kept open (re-opened if closed)."""

    def __init__(self, target, timeout=2.0):
        self.target = target
        self.timeout = timeout
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.connect(target)
        self.tcp = None

    def close(self):
        self.udp.close()
        if self.tcp:
            self.tcp.close()

    def ask(self, q: Query, qid: int):
        m = make_query(q.qname, q.qtype, edns=0 if q.edns else False, do=q.do, rd=q.rd, qid=qid)
        wire = m.to_wire()
        try:
            raw = self._udp(wire, qid) if q.transport == "udp" else self._tcp(wire)
        except NoReply:
            return None
        return parse(raw)

    def _udp(self, wire, qid):
        self.udp.send(wire)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply("UDP timeout")
            self.udp.settimeout(left)
            try:
                raw = self.udp.recv(65535)
            except socket.timeout:
                raise NoReply("UDP timeout") from None
            if len(raw) >= 2 and struct.unpack("!H", raw[:2])[0] == qid:
                return raw  # (a late reply to an earlier query is skipped)

    def _tcp(self, wire):
        for attempt in (1, 2):
            if self.tcp is None:
                self.tcp = socket.create_connection(self.target, timeout=self.timeout)
            try:
                self.tcp.sendall(struct.pack("!H", len(wire)) + wire)
                deadline = time.monotonic() + self.timeout
                (n,) = struct.unpack("!H", recv_exact(self.tcp, 2, deadline))
                return recv_exact(self.tcp, n, deadline)
            except (NoReply, OSError):
                self.tcp.close()
                self.tcp = None
                if attempt == 2:
                    raise NoReply("TCP") from None
        raise AssertionError("unreachable")


# --- comparison ---------------------------------------------------------------------------------

SECTIONS = ("answer", "authority", "additional")


@dataclass
class Summary:
    rcode: str
    flags: frozenset
    edns: tuple | None
    answer: dict = field(default_factory=dict)
    authority: dict = field(default_factory=dict)
    additional: dict = field(default_factory=dict)

    def text(self):
        lines = [f"  {self.rcode} flags={' '.join(sorted(self.flags)) or '-'} edns={self.edns}"]
        for s in SECTIONS:
            for (owner, t), (ttl, rds) in sorted(getattr(self, s).items()):
                lines.append(f"    {s[:4]} {owner} {ttl} {t} {' | '.join(sorted(rds))}")
        return "\n".join(lines)


def section(rrsets) -> dict:
    out = {}
    for rr in rrsets:
        key = (rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype))
        ttl, rds = out.get(key, (rr.ttl, frozenset()))
        out[key] = (min(ttl, rr.ttl), rds | {rd.to_text().lower() for rd in rr})
    return out


def summarize(r) -> Summary | None:
    if r is None:
        return None
    flags = frozenset(f for f in ("AA", "TC", "RD", "RA")
                      if r.flags & getattr(dns.flags, f))
    edns = None if r.edns < 0 else (r.edns, bool(r.ednsflags & dns.flags.DO))
    return Summary(dns.rcode.to_text(r.rcode()), flags, edns,
                   section(r.answer), section(r.authority), section(r.additional))


class Normaliser:
    """The permitted differences of docs/dns-behaviour.md, each counted when used."""

    def __init__(self, ref: Client, sub: Client):
        self.ref, self.sub = ref, sub
        self.used = collections.Counter()

    def apply(self, q: Query, a: Summary, b: Summary):
        """a = reference (Knot), b = subject. May rewrite both in place."""
        if RAW or a is None or b is None:
            return
        # 1. TC: the content of truncated replies is not compared.
        if "TC" in a.flags and "TC" in b.flags:
            for s in SECTIONS:
                setattr(a, s, {})
                setattr(b, s, {})
            self.used["tc-content"] += 1
            return
        # 2. ANY (RFC 8482): any one RRset that exists at the name is fine.
        if q.qtype == "ANY" and a.rcode == b.rcode == "NOERROR" and a.answer and b.answer:
            if self._any_ok(q, b):
                a.answer = b.answer = {("<qname>", "ANY"): (0, frozenset({"one valid RRset"}))}
                a.additional = b.additional = {}
                self.used["any-choice"] += 1
        # 3. CNAME chain limit: a shorter (>= 5 links) true prefix of the same chain.
        self._chain(a, b)
        # 4. Additional section: the subject may omit RRsets, except glue below
        #    the zone cut of a referral; it may not add or change any.
        if a.additional != b.additional and set(b.additional.items()) <= set(a.additional.items()):
            cuts = [o for (o, t) in a.authority if t == "NS"] if "AA" not in a.flags else []
            missing = set(a.additional) - set(b.additional)
            if not any(dns.name.from_text(o).is_subdomain(dns.name.from_text(c))
                       for (o, _) in missing for c in cuts):
                b.additional = a.additional
                self.used["additional-omitted"] += 1

    def _any_ok(self, q: Query, b: Summary) -> bool:
        if q.transport == "udp" and len(b.answer) != 1:
            return False
        for (owner, t), val in b.answer.items():
            check = Query(q.qname, t, q.transport, q.edns, q.do, q.rd)
            r = summarize(self.ref.ask(check, 0x7777))
            if r is None or r.answer.get((owner, t)) != val:
                return False
        return True

    def _chain(self, a: Summary, b: Summary):
        def chain(s):
            return [k for k in s.answer if k[1] == "CNAME"]
        ca, cb = chain(a), chain(b)
        if not ca or not cb or len(ca) == len(cb):
            return
        short, long_ = (a, b) if len(ca) < len(cb) else (b, a)
        n = min(len(ca), len(cb))
        if n < CHAIN_LIMIT_MIN or short.rcode != "NOERROR":
            return
        if any(k[1] != "CNAME" for k in short.answer):
            return  # the shorter one must end on a CNAME: it stopped at its limit
        if all(long_.answer.get(k) == v for k, v in short.answer.items()):
            for s in (a, b):
                s.answer = dict(short.answer)
                s.authority = dict(short.authority)
                s.additional = dict(short.additional)
                s.rcode = short.rcode
            self.used["cname-chain-limit"] += 1


def diff(a: Summary | None, b: Summary | None) -> list[str]:
    if a is None or b is None:
        return [] if a is b else ["no-reply"]
    out = []
    if a.rcode != b.rcode:
        out.append("rcode")
    for f in ("AA", "TC", "RD", "RA"):
        if (f in a.flags) != (f in b.flags):
            out.append(f"flag-{f}")
    if a.edns != b.edns:
        out.append("edns")
    for s in SECTIONS:
        if getattr(a, s) != getattr(b, s):
            out.append(s)
    return out


# --- the test ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    if not shutil.which("knotd") and not os.path.exists("/usr/sbin/knotd"):
        pytest.skip("knotd is not installed (apt-get install knot)")
    if KIND == "knot":
        pytest.skip("the server under test is Knot itself")
    srv = make_server("knot", tmp_path_factory.mktemp("knot-ref"), SUITE_ZONES, seed=SEED)
    try:
        srv.start()
    except ServerError as e:
        pytest.fail(f"reference knotd did not start: {e}", pytrace=False)
    yield srv
    rc = srv.stop()
    assert rc == 0, f"knotd exited {rc}"


@pytest.mark.peer_differs("nsd", reason="NSD follows CNAMEs into other zones it serves "
                          "(and without minimal-responses adds NS to every authority section)")
def test_differential_against_knot(server, knot, tmp_path):
    zones = load_zones(SUITE_ZONES)
    queries = generate_queries(zones)
    assert len(queries) >= MIN_QUERIES, f"only {len(queries)} queries generated"
    ref, sub = Client(knot.target), Client(server.target)
    norm = Normaliser(ref, sub)
    by_kind = collections.defaultdict(list)
    t0 = time.monotonic()
    try:
        for i, q in enumerate(queries):
            a = summarize(ref.ask(q, i & 0xFFFF))
            b = summarize(sub.ask(q, i & 0xFFFF))
            assert a is not None, f"reference knotd did not answer {q.label()}"
            norm.apply(q, a, b)
            kinds = diff(a, b)
            if kinds:
                by_kind[", ".join(kinds)].append((q, a, b))
    finally:
        ref.close()
        sub.close()
    elapsed = time.monotonic() - t0
    failures = sum(len(v) for v in by_kind.values())
    report = [f"differential: {len(queries)} queries in {elapsed:.1f} s, "
              f"{failures} differ, subject {KIND} at {server.target}, reference knotd; "
              f"normalisations {'OFF' if RAW else dict(norm.used)}"]
    for kinds, cases in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        report.append(f"\n== differ in {kinds}: {len(cases)} queries")
        for q, a, b in cases:
            report.append(f"-- {q.label()}\n knot:\n{a.text() if a else '  (no reply)'}\n"
                          f" {KIND}:\n{b.text() if b else '  (no reply)'}")
    text = "\n".join(report) + "\n"
    path = os.environ.get("SOVDNS_DIFF_REPORT") or str(tmp_path / "differential.txt")
    with open(path, "w") as f:
        f.write(text)
    summary = [report[0]] + [f"  {len(v):5d} differ in {k}; first: {v[0][0].label()}"
                             for k, v in sorted(by_kind.items(), key=lambda kv: -len(kv[1]))]
    assert failures == 0, "\n".join(summary) + f"\nfull report: {path}\n" + "\n".join(
        report[1:])[:6000]
