"""A small, strict DNS client for the tests (dnspython for the wire format,
our own sockets so that every byte sent and received is under our control).

Every wait is bounded by `timeout` (seconds).
"""

from __future__ import annotations

import random
import socket
import struct
import time
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

DEFAULT_TIMEOUT = 2.0


class NoReply(Exception):
    """The server sent nothing (UDP timeout, or TCP closed/timed out before a reply)."""


def family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def mixcase(name: str, rng: random.Random | None = None) -> str:
    """Randomises the letter case of a name (0x20 style), deterministically per rng.
    Escapes (\\DDD, \\.) are kept as written."""
    rng = rng or random.Random(name)
    out = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\":
            # keep the escape and what it escapes unchanged
            j = i + 1
            if j < len(name) and name[j].isdigit():
                j += 3
            else:
                j += 1
            out.append(name[i:j])
            i = j
            continue
        out.append(ch.upper() if rng.random() < 0.5 else ch.lower())
        i += 1
    text = "".join(out)
    # make sure at least one letter differs from lower case when there are letters
    if text == name.lower() and any(c.isalpha() for c in name):
        k = next(i for i, c in enumerate(text) if c.isalpha())
        text = text[:k] + text[k].upper() + text[k + 1:]
    return text


def make_query(qname, qtype="A", *, edns: bool | int = False, payload: int = 1232,
               do: bool = False, rd: bool = False, cd: bool = False, options=(),
               ecs: str | None = None, qid: int | None = None,
               opcode: int = dns.opcode.QUERY) -> dns.message.Message:
    """A query (no RD unless rd); edns=False means no OPT record; edns=N (or
    True = 0) sets EDNS version N; ecs="192.0.2.0/24" adds an ECS option."""
    if isinstance(qtype, str):
        qtype = dns.rdatatype.from_text(qtype)
    if ecs is not None:
        options = [*options, ecs_option(ecs)]
    use_edns = False if edns is False else (0 if edns is True else int(edns))
    q = dns.message.make_query(qname, qtype, use_edns=False, id=qid, flags=0)
    if use_edns is not False:
        q.use_edns(edns=use_edns, ednsflags=dns.flags.DO if do else 0, payload=payload,
                   options=list(options))
    else:
        assert not do and not options, "DO and options need EDNS"
    if rd:
        q.flags |= dns.flags.RD
    if cd:
        q.flags |= dns.flags.CD
    q.set_opcode(opcode)
    return q


def udp_raw(target, data: bytes, timeout: float = DEFAULT_TIMEOUT, bufsize: int = 65535) -> bytes:
    """Sends one datagram, returns the first datagram received back; NoReply on timeout."""
    addr, port = target
    with socket.socket(family(addr), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((addr, port))
        s.send(data)
        try:
            return s.recv(bufsize)
        except socket.timeout:
            raise NoReply(f"no UDP reply from {addr}:{port} within {timeout} s") from None


def udp_silent(target, data: bytes, wait: float = 0.5) -> bool:
    """True if the server sends nothing back for `wait` seconds."""
    try:
        udp_raw(target, data, timeout=wait)
        return False
    except NoReply:
        return True


def recv_exact(s: socket.socket, n: int, deadline: float) -> bytes:
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply("TCP read timed out")
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            raise NoReply("TCP read timed out") from None
        except ConnectionResetError:
            raise NoReply("TCP connection reset") from None
        if not chunk:
            raise NoReply(f"TCP connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def tcp_read_msg(s: socket.socket, deadline: float) -> bytes:
    (n,) = struct.unpack("!H", recv_exact(s, 2, deadline))
    return recv_exact(s, n, deadline)


def tcp_connect(target, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    addr, port = target
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((addr, port))
    return s


def tcp_raw(target, data: bytes, timeout: float = DEFAULT_TIMEOUT, frame: bool = True) -> bytes:
    """Sends one (framed) message over a new TCP connection and returns the reply's payload."""
    with tcp_connect(target, timeout) as s:
        s.sendall(struct.pack("!H", len(data)) + data if frame else data)
        return tcp_read_msg(s, time.monotonic() + timeout)


def parse(wire: bytes) -> dns.message.Message:
    """Strict parse: trailing bytes are an error."""
    return dns.message.from_wire(wire, ignore_trailing=False)


def exchange(target, q: dns.message.Message, transport: str, timeout: float = DEFAULT_TIMEOUT):
    """Sends q over 'udp' or 'tcp'; returns (reply message, reply wire size)."""
    wire = q.to_wire()
    raw = udp_raw(target, wire, timeout) if transport == "udp" else tcp_raw(target, wire, timeout)
    r = parse(raw)
    assert r.id == q.id, f"reply id {r.id} != query id {q.id}"
    return r, len(raw)


@dataclass(frozen=True)
class Proto:
    """How a test talks to the server: transport and whether the query carries EDNS."""
    transport: str  # "udp" | "tcp"
    edns: bool

    @property
    def id(self) -> str:
        return f"{self.transport}-{'edns' if self.edns else 'plain'}"


ALL_PROTOS = [Proto("udp", False), Proto("udp", True), Proto("tcp", False), Proto("tcp", True)]


def rrsets(section) -> dict:
    """{(owner lowercased text, type): (ttl, frozenset of rdata text)} for a message section."""
    out = {}
    for rr in section:
        key = (rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype))
        assert key not in out, f"RRset {key} appears twice in one section"
        out[key] = (rr.ttl, frozenset(rd.to_text().lower() for rd in rr))
    return out


def rdtexts(section, name: str, rdtype: str) -> set:
    """The rdata (text, lowercased) of the RRset name/type in a section; empty set if absent."""
    want = dns.name.from_text(name)
    t = dns.rdatatype.from_text(rdtype)
    for rr in section:
        if rr.name == want and rr.rdtype == t:
            return {rd.to_text().lower() for rd in rr}
    return set()


# --------------------------------------------------------------------------
# Queries with an ECS option, and the Reply of the service tests


@dataclass
class Reply:
    msg: dns.message.Message
    elapsed_s: float = 0.0

    @property
    def rcode(self) -> str:
        return dns.rcode.to_text(self.msg.rcode())

    def addrs(self, rdtype: str | None = None) -> list[str]:
        """A/AAAA rdata of the answer section, in order (lowercase text)."""
        out = []
        for rr in self.msg.answer:
            t = dns.rdatatype.to_text(rr.rdtype)
            if t in ("A", "AAAA") and (rdtype is None or t == rdtype):
                out += [rd.to_text().lower() for rd in rr]
        return out

    @property
    def addrset(self) -> frozenset:
        return frozenset(self.addrs())

    def ttls(self, rdtype: str) -> set[int]:
        t = dns.rdatatype.from_text(rdtype)
        return {rr.ttl for rr in self.msg.answer if rr.rdtype == t}

    @property
    def ttl(self) -> int:
        """The TTL of the answer's A/AAAA RRset (there must be exactly one)."""
        ttls = self.ttls("A") | self.ttls("AAAA")
        assert len(ttls) == 1, f"expected one address TTL, got {ttls} in {self.msg.answer}"
        return ttls.pop()

    @property
    def ecs(self):
        """(address, source prefix, scope prefix) of the reply's ECS, or None."""
        for o in self.msg.options:
            if o.otype == dns.edns.OptionType.ECS:
                return o.address, o.srclen, o.scopelen
        return None

    @property
    def scope(self) -> int:
        e = self.ecs
        assert e is not None, "no ECS option in the reply"
        return e[2]

    @property
    def nodata_soa(self) -> bool:
        """NOERROR, empty answer, the zone's SOA in authority (RFC 2308 §2.2)."""
        return (self.msg.rcode() == dns.rcode.NOERROR and not self.msg.answer and
                any(rr.rdtype == dns.rdatatype.SOA for rr in self.msg.authority))

    def __repr__(self):
        return (f"<{self.rcode} answer={[rr.to_text() for rr in self.msg.answer]} "
                f"ecs={self.ecs}>")


def ecs_option(subnet: str) -> dns.edns.ECSOption:
    addr, _, plen = subnet.partition("/")
    return dns.edns.ECSOption(addr, int(plen), 0)


def query(target, qname: str, qtype: str = "A", *, ecs: str | None = None, options=(),
          source: str | None = None, transport: str = "udp", edns: bool = True,
          timeout: float = 2.0) -> Reply:
    """One query to target (addr, port); ecs="192.0.2.0/24" adds an ECS option;
    source binds the client socket (for split-horizon tests)."""
    q = make_query(qname, qtype, ecs=ecs, options=options,
                   edns=0 if (edns or options or ecs is not None) else False)
    addr, port = target
    t0 = time.monotonic()
    if transport == "udp":
        r = dns.query.udp(q, addr, port=port, timeout=timeout, source=source)
    else:
        r = dns.query.tcp(q, addr, port=port, timeout=timeout, source=source)
    return Reply(r, time.monotonic() - t0)


def raw_ecs_query(target, qname: str, ecs_data: bytes, transport: str = "udp",
                  timeout: float = 2.0) -> bytes:
    """Sends a query whose OPT carries ECS option data exactly as given
    (possibly malformed) and returns the raw reply."""
    q = make_query(qname, "A", edns=0,
                   options=[dns.edns.GenericOption(dns.edns.OptionType.ECS, ecs_data)])
    wire = q.to_wire()
    addr, port = target
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if transport == "udp":
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((addr, port))
            s.send(wire)
            return s.recv(65535)
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                break
            buf += chunk
        return buf[2:]


def ecs_wire(family: int, source: int, scope: int, addr: bytes) -> bytes:
    return struct.pack("!HBB", family, source, scope) + addr
