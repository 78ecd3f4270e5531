"""Fixtures of the sovdns integration suite.

Environment:
  SOVDNS_BIN     the binary to test (default sovtest/paths.py SOVDNS_BIN_DEFAULT)
  SOVDNS_TARGET  addr:port of an already running server with the suite's zones
                 (sovtest/servers.py starts one); nothing is started
                 and the tests that need their own process are skipped
  SOVDNS_IMPL    which server the fixtures start: sovdns (default), knot or nsd.
                 knot/nsd validate the harness: tests marked peer_differs(kind)
                 then become strict xfails (they must fail against that peer,
                 which also proves that they can fail).
  SOVDNS_TARGET_EDNS_PAYLOAD  EDNS payload the SOVDNS_TARGET server advertises (1232)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dns.flags  # noqa: E402
import dns.name  # noqa: E402
import dns.opcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.zone  # noqa: E402

from sovtest.dnsclient import ALL_PROTOS, Proto, exchange, make_query, mixcase  # noqa: E402
from sovtest import apiserver  # noqa: E402
from sovtest.paths import default_sovdns_bin  # noqa: E402
from sovtest.ports import parse_hostport  # noqa: E402
from sovtest.procs import tail as _tail  # noqa: E402
from sovtest.servers import SUITE_ZONES, ServerError, make_server  # noqa: E402

KIND = os.environ.get("SOVDNS_IMPL", "sovdns")
TARGET = os.environ.get("SOVDNS_TARGET", "")
DEFAULT_PAYLOAD = 1232

# Servers started by fixtures, so that a failing test shows their logs.
LIVE_SERVERS: list = []
_log_offsets = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "peer_differs(*kinds, reason=...): the rule is ours and the named peer "
        "(knot, nsd) answers otherwise; a strict xfail when SOVDNS_IMPL is that peer")
    config.addinivalue_line("markers", "sovdns_only: exercises sovdns' own command line")


def pytest_report_header(config):
    where = f"target {TARGET}" if TARGET else "started by the suite"
    extra = f", binary {default_sovdns_bin()}" if KIND == "sovdns" and not TARGET else ""
    return [f"sovdns integration: server {KIND}, {where}{extra}"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        for m in item.iter_markers("peer_differs"):
            if KIND in m.args:
                item.add_marker(pytest.mark.xfail(
                    strict=True, reason=f"{KIND} differs: {m.kwargs.get('reason', '')}"))
        if item.get_closest_marker("sovdns_only") and KIND != "sovdns":
            item.add_marker(pytest.mark.skip(reason=f"sovdns command line; server is {KIND}"))


@pytest.fixture(autouse=True)
def end_api_servers():
    """Ends every sovtest.apiserver.ApiServer a test left running (by its PID;
    it must exit 0) and its stand-in sites."""
    yield
    errors = apiserver.end_all()
    assert not errors, "\n".join(errors)


@pytest.fixture(autouse=True)
def _remember_log_offsets(request):
    request.node.stash[_log_offsets] = {
        id(s): s.log_path.stat().st_size for s in LIVE_SERVERS if s.log_path.exists()}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    offsets = item.stash.get(_log_offsets, {})
    for srv in list(LIVE_SERVERS):
        try:
            with open(srv.log_path, "rb") as f:
                f.seek(offsets.get(id(srv), 0))
                text = f.read().decode(errors="replace")
        except OSError:
            continue
        rep.sections.append((f"{srv.kind} stderr during this test ({srv.log_path})",
                             _tail(text) or "(nothing)"))


class RemoteServer:
    """A server that the suite did not start (SOVDNS_TARGET)."""

    def __init__(self, text: str):
        self.addr, self.port = parse_hostport(text)
        self.kind = KIND
        self.advertised_payload = int(os.environ.get("SOVDNS_TARGET_EDNS_PAYLOAD", DEFAULT_PAYLOAD))
        self.ipv6 = False

    @property
    def target(self):
        return self.addr, self.port

    @property
    def listen(self):
        return [self.target]


def start_or_fail(srv):
    error = None
    try:
        srv.start()
    except ServerError as e:
        error = str(e)
    if error:
        pytest.fail(error, pytrace=False)
    LIVE_SERVERS.append(srv)
    return srv


def stop_and_check(srv):
    """Stops srv; its exit status on SIGTERM must be 0 (also catches sanitizer reports)."""
    if srv in LIVE_SERVERS:
        LIVE_SERVERS.remove(srv)
    rc = srv.stop()
    assert rc == 0, (f"{srv.kind} exited with status {rc} on SIGTERM\n"
                     f"--- {srv.log_path} ---\n{_tail(srv.log_text())}")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The server with the suite's zones (demo + tests/integration/zones)."""
    if TARGET:
        yield RemoteServer(TARGET)
        return
    srv = make_server(KIND, tmp_path_factory.mktemp(KIND), SUITE_ZONES, ipv6=True)
    start_or_fail(srv)
    yield srv
    stop_and_check(srv)


@pytest.fixture
def spawn(tmp_path):
    """Factory for servers owned by one test: spawn(zones, **options) -> started server.
    Every one is stopped at the end and must exit 0."""
    if TARGET:
        pytest.skip("needs its own server process (SOVDNS_TARGET is set)")
    started = []

    def _spawn(zones=SUITE_ZONES, name=None, **kw):
        workdir = tmp_path / (name or f"{KIND}{len(started)}")
        srv = make_server(KIND, workdir, zones, **kw)
        started.append(srv)
        return start_or_fail(srv)

    yield _spawn
    errors = []
    for srv in started:
        try:
            stop_and_check(srv)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(params=ALL_PROTOS, ids=lambda p: p.id)
def proto(request) -> Proto:
    return request.param


def check_reply(q, r, size, transport, server_payload):
    """Rules that hold for every reply to a well-formed QUERY."""
    assert r.flags & dns.flags.QR, "QR not set"
    assert r.opcode() == dns.opcode.QUERY
    assert len(r.question) == 1, f"question count {len(r.question)}"
    qq, rq = q.question[0], r.question[0]
    assert rq.name.labels == qq.name.labels, \
        f"question not echoed with its exact case: sent {qq.name}, got {rq.name}"
    assert (rq.rdtype, rq.rdclass) == (qq.rdtype, qq.rdclass)
    assert bool(r.flags & dns.flags.RD) == bool(q.flags & dns.flags.RD), "RD not copied"
    assert not r.flags & dns.flags.RA, "RA set by an authoritative-only server"
    assert not r.flags & dns.flags.AD, "AD set in an answer from unsigned zones"
    if q.edns >= 0:
        assert r.edns == 0, f"reply EDNS version {r.edns}, want an OPT with version 0"
        assert r.payload == server_payload, f"OPT payload {r.payload}, want {server_payload}"
        assert (r.ednsflags & dns.flags.DO) == (q.ednsflags & dns.flags.DO), "DO not echoed"
        limit = min(max(q.payload, 512), server_payload)
    else:
        assert r.edns == -1, "OPT in a reply to a query without EDNS (RFC 6891 §7)"
        limit = 512
    if transport == "udp":
        assert size <= limit, f"UDP reply of {size} bytes exceeds the limit {limit}"
    else:
        assert not r.flags & dns.flags.TC, "TC set over TCP"
    for section in (r.answer, r.authority, r.additional):
        for rrset in section:
            assert rrset.rdclass == dns.rdataclass.IN


class Asker:
    """ask(qname, qtype, ...) -> reply, over the test's transport/EDNS mode, with the
    qname in mixed case, checking check_reply() on every reply."""

    def __init__(self, srv, p: Proto):
        self.server = srv
        self.proto = p

    def __call__(self, qname, qtype, *, rd=False, do=False, payload=1232, options=(), mix=True,
                 edns=None, transport=None, version=0):
        edns = self.proto.edns if edns is None else edns
        transport = transport or self.proto.transport
        sent = mixcase(qname) if mix else qname
        q = make_query(sent, qtype, edns=version if edns else False, payload=payload, do=do,
                       rd=rd, options=options)
        r, size = exchange(self.server.target, q, transport)
        if version == 0:
            check_reply(q, r, size, transport, self.server.advertised_payload)
        r.wire_size = size
        r.query = q
        return r


@pytest.fixture
def ask(server, proto):
    return Asker(server, proto)


class ZoneData:
    """The suite's zones as dnspython reads them: the expected data."""

    def __init__(self, zones):
        self.zones = {dns.name.from_text(o): dns.zone.from_file(str(p), origin=o, relativize=False)
                      for o, p in zones}

    def rrset(self, name: str, rdtype: str, owner: str | None = None):
        """(ttl, frozenset of rdata text) of name/rdtype as an answer would carry it,
        owned by `owner` (for wildcard synthesis) — the form dnsclient.rrsets() gives."""
        n = dns.name.from_text(name)
        t = dns.rdatatype.from_text(rdtype)
        zone = self.zone_of(n, rdtype)
        rds = zone.get_rdataset(n, t)
        assert rds is not None, f"test bug: no {rdtype} at {name} in the zone files"
        key = ((owner or name).lower().rstrip(".") + ".", rdtype)
        return {key: (rds.ttl, frozenset(rd.to_text().lower() for rd in rds))}

    def zone_of(self, n, rdtype=None):
        best = None
        for origin, zone in self.zones.items():
            if n.is_subdomain(origin) and (best is None or origin.is_subdomain(best.origin)):
                if rdtype == "DS" and n == origin:
                    continue  # DS lives in the parent
                best = zone
        assert best is not None, f"test bug: {n} is in no zone"
        return best

    def soa(self, origin: str):
        """The SOA RRset of a negative answer: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)."""
        ((key, (ttl, rds)),) = self.rrset(origin, "SOA").items()
        minimum = int(next(iter(rds)).split()[-1])
        return {key: (min(ttl, minimum), rds)}


@pytest.fixture(scope="session")
def zd():
    return ZoneData(SUITE_ZONES)
