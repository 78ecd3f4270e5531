"""sovdns as a secondary (RFC 1034 §4.3.5, RFC 1996, RFC 1995, RFC 5936): it copies
a zone from real Knot and BIND primaries with TSIG, picks up a change through the
primary's NOTIFY (the SOA refresh is an hour, so nothing else explains it), by IXFR
where the primary keeps differences; a restart serves the kept copy at once; a
primary that goes away makes the zone expire (SERVFAIL) as its SOA says; a sovdns
primary feeds a sovdns secondary; NOTIFYs from strangers are refused; a hostile
primary (a broken, endless or invalid transfer) changes nothing that is served."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

import dns.edns
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rrset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.zone
import pytest
import requests

from conftest import start_or_fail, stop_and_check
from sovtest.paths import BOUND_S, ZONES_DIR
from sovtest.peers import PRIMARIES, XFR_BOUND_S, TsigKey, zone_rrsets, zone_text_records
from sovtest.ports import free_port
from sovtest.servers import Sovdns

ORIGIN = "example.test."
SERIAL = 2024060101

READY_ZONE = """$ORIGIN ready.test.
$TTL 300
@ SOA ns.ready.test. h.ready.test. 1 3600 600 86400 300
@ NS ns.ready.test.
ns A 127.0.0.1
"""


def zone_text(serial: int, extra: str = "", refresh: int = 3600, retry: int = 600,
              expire: int = 1209600) -> str:
    text = (ZONES_DIR / "example.test.zone").read_text()
    for old, new in ((f"{SERIAL} ; serial", f"{serial} ; serial"),
                     ("7200       ; refresh", f"{refresh} ; refresh"),
                     ("3600       ; retry", f"{retry} ; retry"),
                     ("1209600    ; expire", f"{expire} ; expire")):
        assert old in text, f"the suite zone's SOA changed: no {old!r}"
        text = text.replace(old, new, 1)
    return text + extra


def query(srv, name: str, rdtype: str, *, opcode=dns.opcode.QUERY, key: TsigKey | None = None,
          tcp: bool = False, source: str | None = None):
    q = dns.message.make_query(name, rdtype)
    q.set_opcode(opcode)
    if key is not None:
        q.use_tsig(key.dnspython_keyring(), keyname=key.name, algorithm=key.algorithm)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(q, srv.addr, port=srv.port, timeout=BOUND_S, source=source)


def edns_expire(srv, name: str = ORIGIN, rdtype: str = "SOA") -> int | None:
    """The EDNS EXPIRE value (RFC 7314) srv answers a SOA query with, or None."""
    q = dns.message.make_query(name, rdtype, use_edns=0,
                               options=[dns.edns.GenericOption(9, b"")])
    r = dns.query.udp(q, srv.addr, port=srv.port, timeout=BOUND_S)
    for o in r.options:
        if o.otype == 9:
            return struct.unpack("!I", o.to_wire())[0]
    return None


def serial_of(srv) -> int | None:
    try:
        r = query(srv, ORIGIN, "SOA")
    except (OSError, EOFError, dns.exception.DNSException):
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


def wait_for(what, pred, timeout: float = XFR_BOUND_S, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}"
                         + (f"\n--- log ---\n{log()[-4000:]}" if log else ""))


def sovdns_axfr(srv, key: TsigKey) -> set:
    out = set()
    for m in dns.query.xfr(srv.addr, ORIGIN, port=srv.port, keyring=key.dnspython_keyring(),
                           keyname=key.name, relativize=False, timeout=BOUND_S,
                           lifetime=XFR_BOUND_S):
        for rrset in m.answer:
            for rd in rrset:
                out.add((rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rd.rdtype),
                         rd.to_text()))
    return out


def metric(srv, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{srv.api_port}/metrics", timeout=BOUND_S).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


class SovdnsSecondary(Sovdns):
    """A sovdns with ready.test as a primary zone (so the harness sees it ready
    before any transfer) and example.test as a secondary of `primaries`."""

    def __init__(self, workdir: Path, primaries, key: TsigKey | None, *, extra_zone=None,
                 allow_key: TsigKey | None = None, api: bool = True):
        workdir.mkdir(parents=True, exist_ok=True)
        ready = workdir / "ready.test.zone"
        ready.write_text(READY_ZONE)
        self.state_dir = workdir / "state"
        self.key = key
        keys = []
        for k in {kk.name: kk for kk in (key, allow_key) if kk}.values():
            kf = workdir / f"{k.name}.key"
            kf.write_text(k.kdig_arg() + "\n")
            kf.chmod(0o600)
            keys.append({"file": str(kf)})
        zone = {"origin": "example.test", "role": "secondary",
                "primaries": [{"address": f"{a}:{p}", **({"key": key.name} if key else {})}
                              for a, p in primaries]}
        if allow_key:
            zone["transfer"] = {"allow": [{"from": "127.0.0.0/8", "key": allow_key.name}]}
        conf = {"tsig": {"keys": keys}, "state_dir": str(self.state_dir),
                "transfers": {"max_time_s": 10},
                "zones": [{"origin": "ready.test", "file": str(ready)}, zone]}
        if extra_zone:
            conf["zones"].append(extra_zone)
        if api:
            self.api_port = free_port()
            tok = workdir / "ops.token"
            tok.write_text("t" * 40 + "\n")
            tok.chmod(0o600)
            conf["api"] = {"listen": f"127.0.0.1:{self.api_port}", "read_without_token": True,
                           "tokens": [{"name": "ops", "file": str(tok), "scope": "admin"}]}
        super().__init__(workdir / "sovdns", [("ready.test", ready)], config_mode=True,
                         config_extra=conf)

    @property
    def kept(self) -> Path:
        return self.state_dir / "zones" / "example.test.zone"


@pytest.fixture
def key():
    return TsigKey.generate("xfr-key")


@pytest.mark.parametrize("kind", sorted(PRIMARIES))
def test_peer_primary_to_sovdns_secondary(tmp_path, key, kind):
    prim = PRIMARIES[kind](ORIGIN, zone_text(SERIAL), key, allow=["127.0.0.0/8"],
                           workdir=tmp_path / kind)
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key, allow_key=key)
    try:
        start_or_fail(sec)
        wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        want = zone_rrsets(zone_text_records(zone_text(SERIAL), ORIGIN))
        assert zone_rrsets(sovdns_axfr(sec, key)) == want
        assert sec.kept.exists()
        # A change reaches us through NOTIFY (refresh is 3600 s).
        prim.set_secondaries([sec.target])
        new = zone_text(SERIAL + 1, "added 300 IN TXT \"by notify\"\n")
        prim.update_zone(new)
        wait_for("the NOTIFYed change", lambda: serial_of(sec) == SERIAL + 1,
                 log=sec.log_text)
        assert zone_rrsets(sovdns_axfr(sec, key)) == zone_rrsets(zone_text_records(new, ORIGIN))
        log = sec.log_text()
        assert "IXFR from" in log, log[-3000:]  # both keep differences: incremental
        assert metric(sec, "sovdns_secondary_notify_received_total") >= 1
        assert metric(sec, "sovdns_secondary_ixfr_total") >= 1
        # The API shows the zone's state.
        api = f"http://127.0.0.1:{sec.api_port}/v1/zones"
        zones = {z["origin"]: z for z in requests.get(api, timeout=BOUND_S).json()["zones"]}
        assert zones["ready.test."]["role"] == "primary" and "secondary" not in zones["ready.test."]
        z = requests.get(api + "/EXAMPLE.test", timeout=BOUND_S).json()
        assert (z["role"], z["serial"], z["serving"]) == ("secondary", SERIAL + 1, True)
        st = z["secondary"]
        assert st["primaries"] == [{"address": "%s:%d" % prim.target, "key": key.name}]
        assert st["last_transfer"]["kind"] == "IXFR"
        assert st["last_transfer"]["serial"] == SERIAL + 1
        assert st["transfers"] == 2 and st["failures"] == 0
        assert 0 < st["next_check_in_s"] <= 3600
        assert 1209600 - 120 < st["expires_in_s"] <= 1209600
        r = requests.get(api + "/nope.test", timeout=BOUND_S)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    finally:
        stop_and_check(sec)
        prim.stop()


def test_restart_serves_kept_copy_then_expires(tmp_path, key):
    # refresh 2 s, retry 1 s, expire 8 s
    text = zone_text(SERIAL, refresh=2, retry=1, expire=8)
    prim = PRIMARIES["knot"](ORIGIN, text, key, allow=["127.0.0.0/8"], workdir=tmp_path / "knot")
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key)
    start_or_fail(sec)
    wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
    stop_and_check(sec)
    prim.stop()
    stale = sec.kept.parent / "example.test.zone.xfr.AbC123"  # as a kill -9 leaves it
    stale.write_text("partial")
    # With the primary gone, the restarted secondary serves its copy at once...
    start_or_fail(sec)
    assert not stale.exists(), "a cut transfer's temporary file is removed at start"
    try:
        assert serial_of(sec) == SERIAL
        r = query(sec, "www.example.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer
        # ...retries every second, and after expire answers SERVFAIL.
        wait_for("expiry", lambda: query(sec, ORIGIN, "SOA").rcode() == dns.rcode.SERVFAIL,
                 timeout=30, log=sec.log_text)
        assert "expired" in sec.log_text()
        assert metric(sec, 'sovdns_zone_serving{zone="example.test."}') == 0
        assert metric(sec, "sovdns_secondary_expired_total") >= 1
        # A restart keeps it expired (the kept copy's mtime says when it was current).
        stop_and_check(sec)
        start_or_fail(sec)
        assert query(sec, ORIGIN, "SOA").rcode() == dns.rcode.SERVFAIL
        # The primary is back: data again.
        prim = PRIMARIES["knot"](ORIGIN, text, key, allow=["127.0.0.0/8"],
                                 workdir=tmp_path / "knot2", endpoint=prim.target)
        start_or_fail(prim)
        wait_for("recovery", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
    finally:
        stop_and_check(sec)
        prim.stop()


def test_sovdns_primary_to_sovdns_secondary(tmp_path, key):
    kf = tmp_path / "xfr.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    zone = tmp_path / "example.test.zone"
    zone.write_text(zone_text(SERIAL, refresh=2, retry=1))
    geo = {"datacenters": [{"id": "a", "location": {"lat": 50, "lon": 8},
                            "ipv4": ["192.0.2.10"]},
                           {"id": "b", "location": {"lat": 40, "lon": -74},
                            "ipv4": ["198.51.100.10"]}],
           "services": [{"name": "geo.example.test", "policy": "nearest",
                         "datacenters": ["a", "b"], "ttl": 60}]}
    prim = Sovdns(tmp_path / "prim", [("example.test", zone)], config_mode=True,
                  config_extra={"tsig": {"keys": [{"file": str(kf)}]},
                                "zones": [{"origin": "example.test", "file": str(zone),
                                           "transfer": {"allow": [{"from": "127.0.0.0/8",
                                                                   "key": "xfr-key"}]}}],
                                **geo})
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key)
    sec.config_extra.update(geo)  # each instance keeps its own geo configuration
    try:
        start_or_fail(sec)
        wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        # The service is answered by the secondary's own geo selection, not the
        # primary's static sets (which it left out of its copy).
        r = query(sec, "geo.example.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR and len(r.answer[0]) == 1
        assert "geo.example.test" not in sec.kept.read_text()
        zone.write_text(zone_text(SERIAL + 1, "chained 300 IN A 192.0.2.77\n", refresh=2,
                                  retry=1))
        prim.reload()
        wait_for("the change by refresh", lambda: serial_of(sec) == SERIAL + 1,
                 log=sec.log_text)
        r = query(sec, "chained.example.test.", "A")
        assert r.answer and r.answer[0][0].to_text() == "192.0.2.77"
        # EDNS EXPIRE (RFC 7314): the primary says its SOA expire, the secondary
        # the time its copy has left (just confirmed: about the same), and only
        # for the zone's SOA.
        assert edns_expire(prim) == 1209600
        left = edns_expire(sec)
        assert left is not None and 1209600 - 120 <= left <= 1209600
        assert edns_expire(sec, "www.example.test.", "A") is None
        assert edns_expire(sec, "ready.test.") == 86400
    finally:
        stop_and_check(sec)
        stop_and_check(prim)


def test_notify_acl(tmp_path, key):
    prim = PRIMARIES["knot"](ORIGIN, zone_text(SERIAL), key, allow=["127.0.0.0/8"],
                             workdir=tmp_path / "knot")
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key, api=False)
    try:
        start_or_fail(sec)
        wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        src = prim.addr
        # From the primary's address with the key: accepted.
        r = query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, key=key, source=src)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert r.opcode() == dns.opcode.NOTIFY
        # Same address, no key: refused. Another key: BADKEY (NOTAUTH).
        r = query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, source=src)
        assert r.rcode() == dns.rcode.REFUSED
        # Another address with the right key: refused.
        other = "127.0.0.1" if src != "127.0.0.1" else "127.0.0.2"
        r = query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, key=key, source=other)
        assert r.rcode() == dns.rcode.REFUSED
        with pytest.raises(dns.tsig.PeerBadKey):  # NOTAUTH, TSIG error BADKEY
            query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, key=TsigKey.generate("other"),
                  source=src)
        # A zone we do not serve: NOTAUTH; our own primary zone: REFUSED; not SOA: FORMERR.
        assert query(sec, "nope.test.", "SOA", opcode=dns.opcode.NOTIFY).rcode() == \
            dns.rcode.NOTAUTH
        assert query(sec, "ready.test.", "SOA", opcode=dns.opcode.NOTIFY).rcode() == \
            dns.rcode.REFUSED
        assert query(sec, ORIGIN, "A", opcode=dns.opcode.NOTIFY, key=key, source=src).rcode() == \
            dns.rcode.FORMERR
        # Over TCP too.
        r = query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, key=key, tcp=True, source=src)
        assert r.rcode() == dns.rcode.NOERROR
    finally:
        stop_and_check(sec)
        prim.stop()


# -- a hostile primary ---------------------------------------------------------

class FakePrimary:
    """Answers SOA over UDP with `serial` and every AXFR/IXFR over TCP with the
    messages `script(query)` returns (wire, each sent with its length prefix);
    `endless` keeps sending the last one for ever. Unsigned."""

    def __init__(self, serial: int, script, endless: bool = False, silent: bool = False):
        self.serial, self.script, self.endless = serial, script, endless
        self.silent = silent  # TCP: read the query, then send nothing (until closed)
        for _ in range(50):  # one port for UDP and TCP: retry until both are free
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(8)
        self.target = ("127.0.0.1", port)
        self.transfers = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._udp, self._tcp)]
        for t in self.threads:
            t.start()

    def soa_reply(self, q):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        z = dns.zone.from_text(zone_text(self.serial), ORIGIN, relativize=False)
        r.answer.append(z.find_rrset(ORIGIN, "SOA"))
        return r

    def _udp(self):
        self.udp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except OSError:
                continue
            q = dns.message.from_wire(data)
            self.udp.sendto(self.soa_reply(q).to_wire(), peer)

    def _tcp(self):
        self.tcp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.tcp.accept()
            except OSError:
                continue
            with c:
                try:
                    c.settimeout(5)
                    n = struct.unpack("!H", c.recv(2))[0]
                    q = dns.message.from_wire(c.recv(n))
                    self.transfers += 1
                    if self.silent:
                        self.stop.wait(60)
                        continue
                    msgs = self.script(q)
                    for m in msgs:
                        c.sendall(struct.pack("!H", len(m)) + m)
                    deadline = time.monotonic() + 60
                    while self.endless and not self.stop.is_set() and time.monotonic() < deadline:
                        c.sendall(struct.pack("!H", len(msgs[-1])) + msgs[-1])
                except OSError:
                    pass  # the secondary hung up

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=BOUND_S)
        self.udp.close()
        self.tcp.close()


def zone_rrsets_of(text: str):
    """(SOA, the other RRsets) of a zone text, as dnspython RRsets."""
    z = dns.zone.from_text(text, ORIGIN, relativize=False)
    soa = z.find_rrset(ORIGIN, "SOA")
    rest = [dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
            for name, node in z.nodes.items() for rds in node.rdatasets
            if rds.rdtype != dns.rdatatype.SOA]
    return soa, rest


def message(q, rrsets) -> bytes:
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.answer = list(rrsets)
    return r.to_wire(max_size=65535)


def hostile_cases():
    soa, rest = zone_rrsets_of(zone_text(SERIAL + 1))
    www_cname = dns.rrset.from_text("www.example.test.", 300, "IN", "CNAME",
                                    "elsewhere.example.test.")
    outside = dns.rrset.from_text("evil.other.test.", 300, "IN", "A", "192.0.2.66")
    return {
        # the last SOA never comes: the connection closes
        "cut short": lambda q: [message(q, [soa] + rest)],
        # a record outside the zone
        "outside": lambda q: [message(q, [soa] + rest + [outside, soa])],
        # valid wire, but the zone breaks the rules of a zone file (CNAME and other data)
        "invalid zone": lambda q: [message(q, [soa] + rest + [www_cname, soa])],
        # a reply with another ID
        "wrong id": lambda q: [b"\x00\x00" + message(q, [soa] + rest + [soa])[2:]],
        # garbage
        "garbage": lambda q: [b"\x12\x34" + b"\xff" * 40],
        # never ends: records, then the same records again and again (no SOA):
        # cut by transfers.max_time_s (10 s here)
        "endless": lambda q: [message(q, [soa] + rest), message(q, rest)],
    }


@pytest.mark.parametrize("case", sorted(hostile_cases()))
def test_hostile_primary_changes_nothing(tmp_path, case):
    # First a good copy at SERIAL from a friendly fake, then the hostile one at SERIAL+1.
    soa, rest = zone_rrsets_of(zone_text(SERIAL))
    friendly = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + [soa])])
    hostile = None
    sec = SovdnsSecondary(tmp_path / "sec", [friendly.target], None)
    try:
        start_or_fail(sec)
        wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        before = sec.kept.read_bytes()
        friendly.close()
        hostile = FakePrimary(SERIAL + 1, hostile_cases()[case], endless=case == "endless")
        sec.config_extra["zones"][1]["primaries"] = [{"address": "%s:%d" % hostile.target}]
        sec.command()  # rewrites the configuration
        sec.reload()
        # The reload changed the zone's primaries: it checks at once (no NOTIFY
        # needed), and after the failures not again before its SOA retry.
        # IXFR first (we have a copy), then AXFR; both fail. The endless one is
        # cut by the time cap or, when the records come faster than the cap,
        # by the record cap (then AXFR is tried too): wait for the end of the
        # whole refresh, whichever came first. An IXFR cut by the time cap is
        # not retried as AXFR.
        if case == "endless":
            ixfr_failed = "IXFR from %s:%d failed" % hostile.target
            wait_for("the failures logged", lambda: ixfr_failed in sec.log_text() and
                     "no primary confirmed or updated our copy" in sec.log_text(),
                     timeout=3 * XFR_BOUND_S, log=sec.log_text)
            if ixfr_failed + ": the transfer took too long" in sec.log_text():
                assert "AXFR from %s:%d failed" % hostile.target not in sec.log_text()
        else:
            done = "AXFR from %s:%d failed" % hostile.target
            wait_for("the failure logged", lambda: done in sec.log_text(), log=sec.log_text)
        assert serial_of(sec) == SERIAL
        assert sec.kept.read_bytes() == before
        assert not list(sec.kept.parent.glob("*.xfr.*")), "a temporary file was left"
        r = query(sec, "www.example.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    finally:
        stop_and_check(sec)
        friendly.close() if not friendly.stop.is_set() else None
        if hostile:
            hostile.close()


def test_check_config_summarises_transfers(tmp_path, key):
    """--check-config names each secondary's primaries and keys; a bad primary
    address or an unknown key is an error at its position."""
    import json
    import subprocess
    from sovtest.paths import default_sovdns_bin
    kf = tmp_path / "xfr.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    conf = {"listen": ["127.0.0.1:53"], "state_dir": str(tmp_path / "state"),
            "tsig": {"keys": [{"file": str(kf)}]},
            "zones": [{"origin": "example.test", "role": "secondary",
                       "primaries": [{"address": "192.0.2.1", "key": key.name},
                                     {"address": "[2001:db8::1]:5300"}]}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert r.returncode == 0, r.stderr
    assert ("example.test.: secondary, no usable copy in" in r.stdout
            and f"primaries: 192.0.2.1:53 (key {key.name}), [2001:db8::1]:5300 (unsigned)"
            in r.stdout), r.stdout
    assert "1 TSIG keys" in r.stdout
    # A secondary NOTIFYs its NS names only when told to (they are mostly the
    # primary's other secondaries).
    assert "NOTIFY" not in r.stdout, r.stdout
    conf["zones"][0]["notify"] = {"ns": True}
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert "NOTIFY: the NS addresses (but ours)" in r.stdout, r.stdout
    conf["zones"][0]["notify"] = {"ns": False, "also": [{"address": "192.0.2.7"},
                                                        {"address": "192.0.2.8:5300"}]}
    conf["transfers"] = {"max_concurrent": 0}
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert "max_concurrent is 0, out of range: must be from 1 to" in r.stderr, r.stderr
    del conf["transfers"]
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert "NOTIFY: 192.0.2.7:53, 192.0.2.8:5300" in r.stdout, r.stdout  # where, not how many
    conf["zones"][0]["primaries"] = [{"address": "192.0.2.1:99999"}, {"address": "x",
                                                                      "key": "nokey"}]
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert r.returncode != 0
    assert f"{path}:1:" in r.stderr and "primaries" in r.stderr, r.stderr
    assert "nokey" in r.stderr, r.stderr
    # The same primary twice, or ourselves as a primary: errors at the entry.
    conf["zones"][0]["primaries"] = [{"address": "192.0.2.1"}, {"address": "192.0.2.1:53"},
                                     {"address": "127.0.0.1:53"}]
    path.write_text(json.dumps(conf))
    r = subprocess.run([default_sovdns_bin(), "--check-config", path], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert r.returncode != 0
    assert "192.0.2.1:53 is listed twice" in r.stderr, r.stderr
    assert "127.0.0.1:53 is our own listen address" in r.stderr, r.stderr


def test_chain_of_three_by_notify(tmp_path, key):
    """sovdns A (primary) -> B (secondary of A) -> C (secondary of B), refresh an
    hour: a change on A reaches C only if A NOTIFYs B and B, after its transfer,
    NOTIFYs C. EXPIRE travels down too: C's copy expires no later than B's."""
    kf = tmp_path / "xfr.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    zone = tmp_path / "example.test.zone"
    zone.write_text(zone_text(SERIAL))
    allow = {"allow": [{"from": "127.0.0.0/8", "key": key.name}]}
    c = SovdnsSecondary(tmp_path / "c", [("127.0.0.1", 1)], key, api=False)
    b = SovdnsSecondary(tmp_path / "b", [("127.0.0.1", 1)], key, allow_key=key)
    a = Sovdns(tmp_path / "a", [("example.test", zone)], config_mode=True,
               config_extra={"tsig": {"keys": [{"file": str(kf)}]},
                             "zones": [{"origin": "example.test", "file": str(zone),
                                        "transfer": allow}]})
    servers = []
    try:
        for srv in (c, b, a):  # addresses first: each needs the next one's
            srv.command()
        start_or_fail(c)
        servers.append(c)
        start_or_fail(b)
        servers.append(b)
        b.config_extra["zones"][1]["notify"] = {"ns": False, "also": [
            {"address": "%s:%d" % c.target, "key": key.name}]}
        a.config_extra["zones"][0]["notify"] = {"ns": False, "also": [
            {"address": "%s:%d" % b.target, "key": key.name}]}
        start_or_fail(a)
        servers.append(a)
        for srv, up in ((b, a), (c, b)):
            srv.config_extra["zones"][1]["primaries"] = [
                {"address": "%s:%d" % up.target, "key": key.name}]
            srv.command()
            srv.reload()
        wait_for("B has the zone", lambda: serial_of(b) == SERIAL, log=b.log_text)
        wait_for("C has the zone", lambda: serial_of(c) == SERIAL, log=c.log_text)
        zone.write_text(zone_text(SERIAL + 1, "chain 300 IN A 192.0.2.99\n"))
        a.reload()
        wait_for("C follows by NOTIFY", lambda: serial_of(c) == SERIAL + 1, log=c.log_text)
        assert edns_expire(c) <= edns_expire(b) <= 1209600
        # B's API shows the NOTIFY it sent to C, acknowledged.
        url = f"http://127.0.0.1:{b.api_port}/v1/zones/example.test"
        wait_for("B's NOTIFY acknowledged", lambda: requests.get(url, timeout=BOUND_S).json()
                 .get("notify", {}).get("acked") == 1, log=b.log_text)
        n = requests.get(url, timeout=BOUND_S).json()["notify"]
        assert (n["serial"], n["targets"], n["failed"], n["pending"]) == \
            (SERIAL + 1, 1, 0, False), n
        # ...and the transfer C took from it: IXFR, from B's own journal of
        # what it received.
        out = requests.get(url, timeout=BOUND_S).json()["last_transfer_out"]
        assert out["serial"] == SERIAL + 1 and out["complete"] and out["transfers"] >= 2, out
        assert out["kind"] == "IXFR", out
        assert "IXFR from %s:%d" % b.target in c.log_text()
        assert out["to"].startswith(c.addr + ":"), out  # C sends from its listen address
    finally:
        for srv in reversed(servers):
            stop_and_check(srv)


def test_wrong_key_leaves_zone_unserved(tmp_path, key):
    """The primary knows another key: the SOA check fails (BADKEY), nothing is
    served, the reason is logged and shown by the API."""
    prim = PRIMARIES["knot"](ORIGIN, zone_text(SERIAL), TsigKey.generate("xfr-key"),
                             allow=["127.0.0.0/8"], workdir=tmp_path / "knot")
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key)
    try:
        start_or_fail(sec)
        wait_for("the failure logged", lambda: "SOA check with" in sec.log_text(),
                 log=sec.log_text)
        assert query(sec, ORIGIN, "SOA").rcode() == dns.rcode.SERVFAIL
        z = requests.get(f"http://127.0.0.1:{sec.api_port}/v1/zones/example.test",
                         timeout=BOUND_S).json()
        assert z["serving"] is False and z["serial"] is None
        assert "TSIG" in z["secondary"]["last_error"]["message"] or \
            "NOTAUTH" in z["secondary"]["last_error"]["message"], z
    finally:
        stop_and_check(sec)
        prim.stop()


def test_stop_during_an_endless_transfer(tmp_path):
    """SIGTERM while a primary streams a transfer that never ends (and the time
    cap is an hour): sovdns stops at once, cleanly, and leaves no temporary file."""
    soa, rest = zone_rrsets_of(zone_text(SERIAL))
    endless = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest), message(q, rest)],
                          endless=True)
    sec = SovdnsSecondary(tmp_path / "sec", [endless.target], None, api=False)
    sec.config_extra["transfers"] = {"max_time_s": 3600}
    try:
        start_or_fail(sec)
        wait_for("the transfer under way", lambda: endless.transfers >= 1, log=sec.log_text)
        time.sleep(0.5)
    finally:
        stop_and_check(sec)  # exit status 0 within the harness's stop timeout
        endless.close()
    assert not list(sec.kept.parent.glob("*.xfr.*")), "a temporary file was left"


def knot_and_secondary(tmp_path, key, allow_key: TsigKey | None = None):
    """A Knot primary of the suite zone and a sovdns secondary (with the API;
    transfers out allowed with allow_key) that has transferred it; stopped
    again if that fails."""
    prim = PRIMARIES["knot"](ORIGIN, zone_text(SERIAL), key, allow=["127.0.0.0/8"],
                             workdir=tmp_path / "knot")
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], key, allow_key=allow_key)
    try:
        start_or_fail(sec)
        wait_for("the first transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
    except BaseException:
        if sec.alive():
            stop_and_check(sec)
        prim.stop()
        raise
    return prim, sec


def test_notify_flood_costs_one_check_a_second(tmp_path, key):
    """100 NOTIFYs from the primary's address in a burst: sovdns asks the primary
    for the SOA at most once a second for them, not 100 times."""
    prim, sec = knot_and_secondary(tmp_path, key)
    try:
        before = metric(sec, "sovdns_secondary_soa_checks_total")
        t0 = time.monotonic()
        for _ in range(100):
            r = query(sec, ORIGIN, "SOA", opcode=dns.opcode.NOTIFY, key=key, source=prim.addr)
            assert r.rcode() == dns.rcode.NOERROR
        wait_for("a check for the NOTIFYs",
                 lambda: metric(sec, "sovdns_secondary_soa_checks_total") > before,
                 log=sec.log_text)
        checks = metric(sec, "sovdns_secondary_soa_checks_total") - before
        assert checks <= (time.monotonic() - t0) + 2, checks
        assert metric(sec, "sovdns_secondary_notify_received_total") >= 100
    finally:
        stop_and_check(sec)
        prim.stop()


def test_a_silent_primary_holds_up_only_its_zone(tmp_path, key):
    """Zone A's primary accepts the transfer and then sends nothing (sovdns waits
    10 s per message before giving up); zone B, from Knot, is transferred
    meanwhile, not after A's attempts end."""
    silent = FakePrimary(SERIAL, None, silent=True)
    text = SMALL_B
    prim = PRIMARIES["knot"]("other.test.", text, key, allow=["127.0.0.0/8"],
                             workdir=tmp_path / "knot")
    start_or_fail(prim)
    sec = SovdnsSecondary(tmp_path / "sec", [silent.target], None, extra_zone={
        "origin": "other.test", "role": "secondary",
        "primaries": [{"address": "%s:%d" % prim.target, "key": key.name}]})
    sec.key = key
    kf = tmp_path / "sec" / f"{key.name}.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    sec.config_extra["tsig"] = {"keys": [{"file": str(kf)}]}
    try:
        start_or_fail(sec)
        wait_for("A's transfer under way", lambda: silent.transfers >= 1, log=sec.log_text)
        wait_for("B transferred", lambda: "other.test.: AXFR from" in sec.log_text(),
                 log=sec.log_text)
        assert "example.test.: AXFR from %s:%d failed" % silent.target not in sec.log_text()
        q = dns.message.make_query("other.test.", "SOA")
        r = dns.query.udp(q, sec.addr, port=sec.port, timeout=BOUND_S)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    finally:
        stop_and_check(sec)
        silent.close()
        prim.stop()


SMALL_B = """$ORIGIN other.test.
$TTL 300
@ SOA ns.other.test. h.other.test. 7 3600 600 86400 300
@ NS ns.other.test.
ns A 192.0.2.7
"""


def test_refresh_through_the_api(tmp_path, key):
    """Without NOTIFY and with an hour's refresh, POST /v1/zones/{origin}/refresh
    brings a change at once; a primary zone answers 409, an unknown one 404."""
    prim, sec = knot_and_secondary(tmp_path, key)
    try:
        prim.update_zone(zone_text(SERIAL + 1))  # Knot NOTIFYs nobody: no secondaries set
        time.sleep(1)
        assert serial_of(sec) == SERIAL
        api = f"http://127.0.0.1:{sec.api_port}/v1/zones"
        auth = {"Authorization": "Bearer " + "t" * 40}
        r = requests.post(api + "/Example.TEST/refresh", timeout=BOUND_S, headers=auth)
        assert r.status_code == 200 and r.json() == {"origin": "example.test.", "queued": True}, \
            r.text  # the origin as GET /v1/zones spells it
        wait_for("the refreshed serial", lambda: serial_of(sec) == SERIAL + 1, log=sec.log_text)
        r = requests.post(api + "/ready.test/refresh", timeout=BOUND_S, headers=auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_secondary", r.text
        r = requests.post(api + "/nope.test/refresh", timeout=BOUND_S, headers=auth)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    finally:
        stop_and_check(sec)
        prim.stop()


def test_occluded_data_is_kept_sent_and_never_answered(tmp_path, key):
    """RFC 5936 §3.5: occluded names (data at or below a zone cut that is not its
    NS, DS or glue: e.g. a delegation added over data by a dynamic update) are
    part of the zone: a received transfer holding them is taken, they go out
    in our AXFR, and no query is answered from them (a referral instead)."""
    extra = ("sub 300 IN NS ns.other.example.\n"
             "sub 300 IN A 192.0.2.98\n"            # at the cut: occluded
             "x.sub 300 IN A 192.0.2.99\n"          # below it, not glue: occluded
             "*.sub 300 IN TXT \"occluded wildcard\"\n"
             "mx 300 IN MX 10 x.sub.example.test.\n")
    soa, rest = zone_rrsets_of(zone_text(SERIAL, extra))
    prim = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + [soa])])
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], None, allow_key=key)
    try:
        start_or_fail(sec)
        wait_for("the zone with occluded data taken", lambda: serial_of(sec) == SERIAL,
                 log=sec.log_text)
        assert "occluded" in sec.log_text()  # said, as a warning
        for name, rdtype in (("x.sub.example.test.", "A"), ("sub.example.test.", "A"),
                             ("y.sub.example.test.", "TXT"), ("sub.example.test.", "ANY")):
            r = query(sec, name, rdtype)
            assert r.rcode() == dns.rcode.NOERROR and not r.answer, (name, rdtype, r)
            assert not r.flags & dns.flags.AA, "a referral is not authoritative"
            assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.NS], r
        # an MX naming an occluded name gets no address from it
        r = query(sec, "mx.example.test.", "MX")
        assert r.answer and not [rr for rr in r.additional
                                 if rr.name.to_text() == "x.sub.example.test."], r
        got = sovdns_axfr(sec, key)
        assert ("x.sub.example.test.", 300, "A", "192.0.2.99") in got
        assert ("sub.example.test.", 300, "A", "192.0.2.98") in got
    finally:
        stop_and_check(sec)
        prim.close()


def test_older_serial_confirms_nothing(tmp_path):
    """A primary whose serial went down (RFC 1982: older than ours) does not
    refresh our copy: said in the log and in last_error, and the copy expires
    at its SOA expire, as Knot and BIND do (short timers here)."""
    soa, rest = zone_rrsets_of(zone_text(SERIAL + 5, refresh=2, retry=2, expire=6))
    good = FakePrimary(SERIAL + 5, lambda q: [message(q, [soa] + rest + [soa])])
    sec = SovdnsSecondary(tmp_path / "sec", [good.target], None)
    old = None
    try:
        start_or_fail(sec)
        wait_for("the first copy", lambda: serial_of(sec) == SERIAL + 5, log=sec.log_text)
        good.close()
        old = FakePrimary(SERIAL, lambda q: [])  # answers SOA with an older serial
        sec.config_extra["zones"][1]["primaries"] = [{"address": "%s:%d" % old.target}]
        sec.command()
        sec.reload()
        said = f"has serial {SERIAL}, older than ours ({SERIAL + 5}): not a confirmation"
        wait_for("the older serial said", lambda: said in sec.log_text(), log=sec.log_text)
        api = f"http://127.0.0.1:{sec.api_port}/v1/zones/example.test."
        wait_for("last_error", lambda: said in ((requests.get(api, timeout=BOUND_S).json()
                                                 .get("secondary") or {}).get("last_error")
                                                or {}).get("message", ""), log=sec.log_text)
        wait_for("the copy expired", lambda: query(sec, "www.example.test.", "A").rcode()
                 == dns.rcode.SERVFAIL, timeout=6 + XFR_BOUND_S, log=sec.log_text)
    finally:
        stop_and_check(sec)
        if old:
            old.close()
        if not good.stop.is_set():
            good.close()


def test_kept_copy_that_cannot_be_written_is_said(tmp_path):
    """The kept copy's place cannot hold a file (its directory is a regular
    file): the transfer is served all the same, and the reason is in the log
    and in the API's last_error, not lost."""
    soa, rest = zone_rrsets_of(zone_text(SERIAL))
    prim = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + [soa])])
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], None)
    sec.config_extra["zones"][1]["file"] = str(blocker / "example.test.zone")
    try:
        start_or_fail(sec)
        wait_for("the zone served", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        wait_for("the reason logged", lambda: "its kept copy could not be written"
                 in sec.log_text(), log=sec.log_text)
        api = f"http://127.0.0.1:{sec.api_port}/v1/zones/example.test."
        err = requests.get(api, timeout=BOUND_S).json()["secondary"]["last_error"]
        assert err and err["message"].startswith("kept copy: ") and "blocker" in err["message"]
    finally:
        stop_and_check(sec)
        prim.close()


def test_chained_expiry_says_edns_expire(tmp_path, key):
    """A fake primary -> B (sovdns) -> C (sovdns), SOA refresh 1 s, expire 60 s
    but B's copy is from a primary gone long enough that its EDNS EXPIRE (RFC
    7314) tells C only seconds are left: when C expires, its log says so, not
    that no primary confirmed it for 60 s."""
    soa, rest = zone_rrsets_of(zone_text(SERIAL, refresh=1, retry=1, expire=8))
    prim = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + [soa])])
    c = SovdnsSecondary(tmp_path / "c", [("127.0.0.1", 1)], key, api=False)
    b = SovdnsSecondary(tmp_path / "b", [prim.target], None, allow_key=key)
    servers = []
    try:
        for srv in (c, b):
            srv.command()
        start_or_fail(b)
        servers.append(b)
        wait_for("B has the zone", lambda: serial_of(b) == SERIAL, log=b.log_text)
        prim.close()  # from now on B's copy only ages
        c.config_extra["zones"][1]["primaries"] = [{"address": "%s:%d" % b.target,
                                                    "key": key.name}]
        c.command()
        start_or_fail(c)
        servers.append(c)
        wait_for("C has the zone", lambda: serial_of(c) == SERIAL, log=c.log_text)
        wait_for("C expired", lambda: "expired:" in c.log_text(), timeout=8 + XFR_BOUND_S,
                 log=c.log_text)
        assert "its EDNS EXPIRE, RFC 7314" in c.log_text(), c.log_text()[-2000:]
    finally:
        for srv in servers:
            stop_and_check(srv)
        if not prim.stop.is_set():
            prim.close()
