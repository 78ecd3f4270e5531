"""NOTIFY out (RFC 1996): sovdns as the primary tells its secondaries that a zone
changed, signed with TSIG (RFC 8945).

Real Knot, NSD and BIND secondaries keep the suite zone's SOA refresh of 7200 s,
so a new serial reaching them within XFR_BOUND_S (20 s) after a reload can only
be the NOTIFY's doing. A stand-in target (a UDP socket of this test) checks what
the NOTIFY looks like, that an unanswered one is retried with the same ID and a
growing wait while sovdns keeps answering, and that a NOTIMP answer ends the
tries. The daemon has the HTTP API, for /metrics."""

from __future__ import annotations

import socket
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from sovtest.daemon import ApiDaemon
from sovtest.paths import ZONES_DIR
from sovtest.peers import SECONDARIES, XFR_BOUND_S, TsigKey
from sovtest.wait import wait_until

from conftest import start_or_fail, stop_and_check

ORIGIN = "example.test."
SERIAL = 2024060101
TOKENS = {"viewer": ("read", "viewer-secret-0123456789abcdef01")}


def zone_text(serial: int) -> str:
    text = (ZONES_DIR / "example.test.zone").read_text()
    # The suite zone's refresh (7200 s) is kept: only NOTIFY explains a fast update.
    assert "7200       ; refresh" in text, "the suite zone's SOA refresh changed"
    old = f"{SERIAL} ; serial"
    assert old in text, f"the suite zone's SOA changed: no {old!r}"
    return text.replace(old, f"{serial} ; serial", 1)


def metric(d: ApiDaemon, name: str) -> float:
    for line in d.metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no sample {name} in /metrics")


class Primary(ApiDaemon):
    """sovdns serving example.test to loopback with a key; notify set per test."""

    def __init__(self, tmp_path):
        self.key = TsigKey.generate("notify-key")
        keys = tmp_path / "keys"
        keys.mkdir()
        kf = keys / "k.key"
        kf.write_text(self.key.kdig_arg() + "\n")
        kf.chmod(0o600)
        self.zone_path = tmp_path / "example.test.zone"
        self.zone_path.write_text(zone_text(SERIAL))
        conf = {"log": {"level": "debug"},
                "tsig": {"keys": [{"file": str(kf)}]},
                "zones": [{"origin": "example.test", "file": str(self.zone_path),
                           "transfer": {"allow": [{"from": "127.0.0.0/8",
                                                   "key": self.key.name}]},
                           # no NS targets: the suite's NS names are documentation
                           # addresses nobody answers on
                           "notify": {"ns": False}}]}
        super().__init__(tmp_path / "sovdns", conf, tokens=TOKENS)

    def change(self, serial: int, also: list) -> None:
        """notify.also = also [(addr, port, key name or None)], zone serial = serial,
        then SIGHUP."""
        notify = {"ns": False}
        if also:
            notify["also"] = [{"address": f"{a}:{p}", **({"key": k} if k else {})}
                              for a, p, k in also]
        self.conf["zones"][0]["notify"] = notify
        self.write_config()
        self.zone_path.write_text(zone_text(serial))
        self.reload_signal()

    def serial(self) -> int | None:
        q = dns.message.make_query(ORIGIN, dns.rdatatype.SOA)
        try:
            r = dns.query.udp(q, self.addr, port=self.dns_port, timeout=1)
        except (OSError, dns.exception.DNSException):
            return None
        return r.answer[0][0].serial if r.answer else None


@pytest.fixture
def primary(tmp_path):
    d = Primary(tmp_path)
    d.start()
    yield d
    d.stop()


class Target:
    """A NOTIFY target on 127.0.0.1: records every datagram (monotonic time,
    message) and, with `rcode`, answers each with that rcode."""

    def __init__(self, rcode: int | None = None, keyring=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.rcode = rcode
        self.keyring = keyring
        self.got: list = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = dns.message.from_wire(wire, keyring=self.keyring)
            with self.lock:
                self.got.append((time.monotonic(), m, peer))
            if self.rcode is not None:
                r = dns.message.make_response(m)
                r.set_rcode(self.rcode)
                self.sock.sendto(r.to_wire(), peer)

    def messages(self) -> list:
        with self.lock:
            return list(self.got)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("kind", sorted(SECONDARIES))
def test_notify_brings_secondary_up_to_date(primary, tmp_path, kind):
    sec = SECONDARIES[kind](ORIGIN, [primary.target], primary.key, workdir=tmp_path / kind)
    start_or_fail(sec)
    try:
        sec.wait_serial(SERIAL)
        primary.change(SERIAL + 1, [(sec.addr, sec.port, primary.key.name)])
        # The secondary's refresh is 7200 s: within the bound, only NOTIFY explains it.
        sec.wait_serial(SERIAL + 1, timeout=XFR_BOUND_S)
        # Its answer to our signed NOTIFY verified (Knot, NSD and BIND sign it).
        wait_until(lambda: f"acknowledged by {sec.addr}:{sec.port}, signed" in primary.log(),
                   what=f"sovdns to log the {kind} secondary's acknowledgement")
        assert metric(primary, "sovdns_notify_acked_total") == 1
        assert metric(primary, "sovdns_notify_failed_total") == 0
        assert metric(primary, "sovdns_notify_sent_total") >= 1
    finally:
        stop_and_check(sec)


def test_unanswered_notify_is_retried_with_the_same_id(primary):
    key = primary.key
    t = Target(keyring=key.dnspython_keyring())
    try:
        primary.change(SERIAL + 1, [("127.0.0.1", t.port, key.name)])
        wait_until(lambda: len(t.messages()) >= 3, timeout=XFR_BOUND_S,
                   what="three tries of the NOTIFY")
        got = t.messages()
        first = got[0][1]
        for when, m, peer in got[:3]:
            assert m.opcode() == dns.opcode.NOTIFY
            assert m.flags & dns.flags.AA and not m.flags & dns.flags.QR
            assert m.id == first.id, "a retry is the same query"
            assert peer[0] == primary.addr, "sent from our listen address"
            q = m.question[0]
            assert (q.name, q.rdtype) == (dns.name.from_text(ORIGIN), dns.rdatatype.SOA)
            assert m.answer and m.answer[0][0].serial == SERIAL + 1
            assert m.had_tsig, "signed with the target's key (verified by dnspython)"
        # Back-off: 1 s, then 2 s between sends. Lower bounds, with room for the
        # time this thread takes to see a datagram: a slow machine only makes
        # the waits longer.
        assert got[1][0] - got[0][0] >= 0.7
        assert got[2][0] - got[1][0] >= 1.5
        # Meanwhile the daemon answers queries, with the new version.
        assert primary.serial() == SERIAL + 1
        assert metric(primary, "sovdns_notify_acked_total") == 0
        assert metric(primary, "sovdns_notify_sent_total") >= 3
    finally:
        t.close()


def test_unsendable_notify_is_not_retried(primary):
    """sovdns listens on loopback only, so its NOTIFY socket cannot reach
    192.0.2.1 (sendto: EINVAL): said once, counted as failed, never retried."""
    primary.change(SERIAL + 1, [("192.0.2.1", 53, None)])
    wait_until(lambda: metric(primary, "sovdns_notify_failed_total") == 1, timeout=XFR_BOUND_S,
               what="the NOTIFY given up")
    log = primary.log()
    assert "192.0.2.1:53 from" in log and "cannot be sent: Invalid argument; not retried" in log
    assert "(try 2)" not in log and "no answer after" not in log
    assert metric(primary, "sovdns_notify_sent_total") == 0


def test_notimp_answer_ends_the_tries(primary):
    t = Target(rcode=dns.rcode.NOTIMP)
    try:
        primary.change(SERIAL + 1, [("127.0.0.1", t.port, None)])
        warning = f"127.0.0.1:{t.port} answered NOTIFY of serial {SERIAL + 1} with NOTIMP"
        wait_until(lambda: warning in primary.log(), timeout=XFR_BOUND_S,
                   what="the NOTIMP warning")
        seen = len(t.messages())
        assert seen >= 1
        # The first retry would come 1 s after the first send: none in 3 s.
        time.sleep(3)
        assert len(t.messages()) == seen, "a NOTIFY answered NOTIMP was sent again"
        assert metric(primary, "sovdns_notify_failed_total") == 1
        assert metric(primary, "sovdns_notify_acked_total") == 0
        assert primary.serial() == SERIAL + 1
    finally:
        t.close()


def test_newer_serial_replaces_a_pending_notify(primary):
    t = Target()
    try:
        primary.change(SERIAL + 1, [("127.0.0.1", t.port, None)])
        wait_until(lambda: len(t.messages()) >= 1, timeout=XFR_BOUND_S, what="the first NOTIFY")
        primary.change(SERIAL + 2, [("127.0.0.1", t.port, None)])
        wait_until(lambda: any(m.answer[0][0].serial == SERIAL + 2 for _, m, _ in t.messages()),
                   timeout=XFR_BOUND_S, what="the NOTIFY of the newer serial")
        # From then on only the newer serial is sent.
        n = len(t.messages())
        wait_until(lambda: len(t.messages()) > n, timeout=XFR_BOUND_S, what="a retry")
        last = t.messages()[n:]
        assert all(m.answer[0][0].serial == SERIAL + 2 for _, m, _ in last)
        assert "serial %d replaces serial %d" % (SERIAL + 2, SERIAL + 1) in primary.log()
    finally:
        t.close()
