"""Helpers of the geo and failover integration tests (test_geo_answers.py,
test_failover.py): a zone with service names, stand-in datacenters (real
HTTP/HTTPS/silent servers from probe_servers.py, each in its own process so
that a test can kill it like a crashed site and start it again on the same
port), certificates made with the openssl command line, a .mmdb built from a
readable source with Debian's MaxMind DB writer, and a small DNS client that
shows what the geo tests look at (addresses, TTL, ECS echo and scope).

Every wait is on a condition with a bound; nothing is killed by name.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PY = "/usr/bin/python3"
PROBE_SERVERS = HERE / "probe_servers.py"
MKMMDB = REPO / "tests" / "unit" / "geo" / "mkmmdb.pl"
CITY_TXT = REPO / "tests" / "unit" / "geo" / "city.txt"

ORIGIN = "geo.test"

# The zone every geo test serves. www, pay, db, all... are services (from the
# configuration): they have no A/AAAA/CNAME here; other types may live there.
# Line numbers matter to test_geo_answers' config-error test (STATIC_A_LINE).
ZONE = """$ORIGIN geo.test.
$TTL 3600
@        SOA   ns1.geo.test. hostmaster.geo.test. 1 7200 3600 1209600 300
         NS    ns1.geo.test.
ns1      A     192.0.2.53
static   A     192.0.2.99
         AAAA  2001:db8::99
blog     CNAME www.geo.test.
www      TXT   "the web site: a geo service"
"""
STATIC_A_LINE = 6   # "static A" above
BLOG_CNAME_LINE = 8  # "blog CNAME" above
NEG_TTL = 300        # min(SOA TTL 3600, MINIMUM 300), RFC 2308 §5


def write_zone(directory: Path, text: str = ZONE) -> Path:
    path = Path(directory) / "geo.test.zone"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------
# DNS client


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


def make_query(qname: str, qtype: str = "A", *, ecs: str | None = None, options=(),
               edns: bool = True) -> dns.message.Message:
    opts = list(options)
    if ecs is not None:
        opts.append(ecs_option(ecs))
    q = dns.message.make_query(qname, qtype, use_edns=0 if (edns or opts) else False,
                               payload=1232, options=opts)
    q.flags = 0  # an authoritative query: no RD
    return q


def query(target, qname: str, qtype: str = "A", *, ecs: str | None = None, options=(),
          source: str | None = None, transport: str = "udp", edns: bool = True,
          timeout: float = 2.0) -> Reply:
    """One query to target (addr, port); ecs="192.0.2.0/24" adds an ECS option;
    source binds the client socket (for split-horizon tests)."""
    q = make_query(qname, qtype, ecs=ecs, options=options, edns=edns)
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
    q = make_query(qname, "A", options=[dns.edns.GenericOption(dns.edns.OptionType.ECS,
                                                               ecs_data)])
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


# --------------------------------------------------------------------------
# Waiting


def wait_until(cond, timeout_s: float, what: str, interval_s: float = 0.02):
    """Polls cond() until it returns something truthy; returns (value, elapsed
    seconds). Exceptions from cond (e.g. a UDP timeout) count as 'not yet'."""
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    last = None
    while True:
        try:
            v = cond()
            if v:
                return v, time.monotonic() - t0
            last = v
        except (AssertionError, OSError, dns.exception.DNSException) as e:
            last = e
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout_s:.2f} s waiting for {what} (last: {last!r})")
        time.sleep(interval_s)


def wait_log(srv, pattern: str, timeout_s: float = 5.0, offset: int = 0) -> str:
    """Waits until the server's log (from offset) contains pattern; returns the line."""
    def find():
        for line in srv.log_text()[offset:].splitlines():
            if pattern in line:
                return line
        return None
    line, _ = wait_until(find, timeout_s, f"log line containing {pattern!r}")
    return line


def wait_services_ready(srv, qname: str = f"www.{ORIGIN}", timeout_s: float = 10.0) -> Reply:
    """Waits until the first probe round is done: service answers are no longer SERVFAIL."""
    r, _ = wait_until(lambda: (lambda r: r if r.rcode != "SERVFAIL" else None)(
        query(srv.target, qname, "A")), timeout_s, f"{qname} answered (first probe round)")
    return r


# --------------------------------------------------------------------------
# Stand-in datacenters


class Endpoint:
    """One stand-in endpoint (probe_servers.py MODE) in its own process, restartable
    on the same port. kill() is SIGKILL: a crash, no goodbye."""

    def __init__(self, mode: str, bind: str, port: int = 0, extra=()):
        self.mode, self.bind, self.port, self.extra = mode, bind, port, list(extra)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 10.0) -> "Endpoint":
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [PY, str(PROBE_SERVERS), self.mode, "--bind", self.bind, "--port", str(self.port)]
            + self.extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            self.kill()
            pytest.fail(f"{self.mode} stand-in on {self.bind}:{self.port} did not start")
        self.port = int(line.split()[1])
        return self

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
        self.proc = None

    @property
    def hostport(self) -> str:
        return f"[{self.bind}]:{self.port}" if ":" in self.bind else f"{self.bind}:{self.port}"


def closed_port(bind: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound, read back, closed)."""
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((bind, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Certificates (openssl command line)


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


def make_pki(d: Path) -> dict:
    """A test CA, a CA nobody trusts, and leaf certificates: good (www.test),
    wrongname (other.test), expired (www.test, expired yesterday), untrusted
    (www.test from the other CA). Returns {"ca": path, name: [--cert, --key args]}."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                 "-subj", f"/CN=sovdns geo test {ca}", "-days", "30", cwd=d)

    def leaf(name, dns_name, ca, days):
        (d / f"{name}.ext").write_text(
            f"subjectAltName=DNS:{dns_name}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={dns_name}", cwd=d)
        # OpenSSL 3's x509 takes a negative -days: notAfter before notBefore
        # (now), i.e. a certificate that expired yesterday.
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", str(days),
                 "-extfile", f"{name}.ext", cwd=d)
        return ["--cert", str(d / f"{name}.crt"), "--key", str(d / f"{name}.key")]

    return {
        "ca": str(d / "ca.crt"),
        "good": leaf("good", "www.test", "ca", 20),
        "wrongname": leaf("wrongname", "other.test", "ca", 20),
        "expired": leaf("expired", "www.test", "ca", -1),
        "untrusted": leaf("untrusted", "www.test", "rogue-ca", 20),
    }


# --------------------------------------------------------------------------
# MaxMind DB


def build_mmdb(source: Path, out: Path) -> Path:
    """Builds out from the readable source with tests/unit/geo/mkmmdb.pl;
    skips the test when Debian's libmaxmind-db-writer-perl is missing."""
    r = subprocess.run(["perl", str(MKMMDB), str(source), str(out)], capture_output=True,
                       text=True, timeout=60)
    if r.returncode == 77:
        pytest.skip("cannot build the test .mmdb: install libmaxmind-db-writer-perl")
    assert r.returncode == 0, f"mkmmdb.pl {source}: {r.stderr}"
    return out


# --------------------------------------------------------------------------
# The server


def geo_server(spawn, zone_path: Path, *, datacenters, services, geo=None, probes=None,
               name: str = "geo", extra=None):
    """Starts sovdns (config-file mode) serving geo.test with these sections."""
    cfg = {"datacenters": datacenters, "services": services}
    if geo is not None:
        cfg["geo"] = geo
    if probes is not None:
        cfg["probes"] = probes
    cfg.update(extra or {})
    return spawn([(ORIGIN, zone_path)], name=name, config_mode=True, config_extra=cfg)


def rewrite_config(srv, change) -> None:
    """Applies change(dict) to the server's config file, replaced atomically."""
    conf = json.loads(srv.config_path.read_text())
    change(conf)
    tmp = srv.config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(conf, indent=2) + "\n")
    os.replace(tmp, srv.config_path)
