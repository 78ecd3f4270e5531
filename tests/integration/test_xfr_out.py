"""sovdns as a primary: AXFR (RFC 5936) and IXFR (RFC 1995) out, TSIG (RFC 8945),
the per-zone ACL, the concurrency cap, a reload during a transfer.

Clients are dnspython (which verifies every message's TSIG), kdig and dig; the
server is the real daemon with a configuration of its own per test module."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from unittest import mock

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

from sovtest.dnsclient import NoReply, parse, recv_exact, tcp_raw, udp_raw
from sovtest.paths import ZONES_DIR, default_sovdns_bin
from sovtest.ports import free_port
from sovtest.servers import Sovdns
from sovtest.wait import wait_until

ORIGIN = "example.test."
KEY_NAME = "transfer."
BOUND_S = 20.0


def make_key(path: Path, name="transfer", alg="hmac-sha256") -> str:
    secret = base64.b64encode(os.urandom(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{alg}:{name}:{secret}\n")
    path.chmod(0o600)
    return secret


def big_zone(path: Path, hosts: int, serial: int = 2024060101) -> Path:
    text = (ZONES_DIR / "example.test.zone").read_text()
    text = text.replace("2024060101", str(serial))
    lines = [text]
    lines += [f"h{i} 300 IN A 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}\n" for i in range(hosts)]
    # one RRset larger than a 16 KiB message, one record larger than 16 KiB
    lines += [f'many 300 IN TXT "{i:04d}{"m" * 200}"\n' for i in range(120)]
    lines.append("huge 300 IN TXT " + " ".join(f'"{"x" * 250}"' for _ in range(160)) + "\n")
    path.write_text("".join(lines))
    return path


def zone_set(origin: str, records) -> set:
    """(name, ttl, type, rdata) of records, names absolute and lowercased."""
    out = set()
    for name, ttl, rdata in records:
        out.add((name.to_text().lower(), ttl, dns.rdatatype.to_text(rdata.rdtype),
                 rdata.to_text().lower()))
    return out


def file_set(path: Path) -> set:
    z = dns.zone.from_file(str(path), ORIGIN, relativize=False, check_origin=True)
    recs = []
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                recs.append((name, rds.ttl, rd))
    return zone_set(ORIGIN, recs)


def axfr_messages(server, keyring=None, keyname=None, rdtype="AXFR", serial=0, source=None):
    return list(dns.query.xfr(server.addr, ORIGIN, rdtype=rdtype, port=server.port,
                              keyring=keyring, keyname=keyname, timeout=BOUND_S,
                              lifetime=BOUND_S * 3, serial=serial, source=source,
                              relativize=False))


def transferred_set(msgs) -> set:
    recs = []
    for m in msgs:
        for rrset in m.answer:
            for rd in rrset:
                recs.append((rrset.name, rrset.ttl, rd))
    return zone_set(ORIGIN, recs)


class Primary:
    def __init__(self, tmp: Path, zone: Path, allow, *, extra=None, keys=None):
        self.dir = tmp
        self.key_path = tmp / "keys" / "transfer.key"
        self.secret = make_key(self.key_path)
        self.zone = zone
        conf = {"tsig": {"keys": keys or [{"file": "keys/transfer.key"}]},
                "zones": [{"origin": "example.test", "file": str(zone),
                           "transfer": {"allow": allow}}]}
        conf.update(extra or {})
        self.srv = Sovdns(tmp, [("example.test", zone)], config_mode=True, config_extra=conf,
                          threads=2)

    @property
    def keyring(self):
        return dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", self.secret)})

    @property
    def kdig_key(self) -> str:
        return f"hmac-sha256:transfer:{self.secret}"


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xfr-primary")
    zone = big_zone(tmp / "example.test.zone", 20000)
    p = Primary(tmp, zone, [{"from": ["127.0.0.0/8", "::1"], "key": "transfer"},
                            {"from": "127.0.0.77/32"}],
                extra={"transfers": {"max_concurrent": 4},
                       # a stalled client keeps its slot however slow this machine is
                       "tcp": {"idle_timeout_ms": 600000}})
    p.srv.start()
    yield p
    p.srv.stop()


# ---- AXFR with TSIG ------------------------------------------------------------------

def test_axfr_signed_equals_zone_file(primary):
    msgs = axfr_messages(primary.srv, primary.keyring, KEY_NAME)
    assert len(msgs) > 10, "20,000 records fit in one message?"
    first, last = msgs[0].answer[0], msgs[-1].answer[-1]
    assert first.rdtype == dns.rdatatype.SOA and last.rdtype == dns.rdatatype.SOA
    assert transferred_set(msgs) == file_set(primary.zone)
    assert all(m.had_tsig for m in msgs), "RFC 8945 §5.3.1: every message is signed"
    assert len(msgs[0].question) == 1 and all(len(m.question) == 0 for m in msgs[1:])
    for m in msgs:
        assert m.flags & dns.flags.AA and m.rcode() == dns.rcode.NOERROR
        assert len(m.to_wire()) <= 65535


def test_axfr_with_kdig_and_dig_verifies(primary):
    for cmd in (["kdig", "-y", primary.kdig_key, "+tcp", f"@{primary.srv.addr}", "-p",
                 str(primary.srv.port), "example.test", "AXFR"],
                ["dig", "-y", primary.kdig_key, f"@{primary.srv.addr}", "-p",
                 str(primary.srv.port), "example.test", "AXFR"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=BOUND_S)
        assert out.returncode == 0, out.stderr + out.stdout
        assert "failed" not in out.stdout.lower() and "tsig" in out.stdout.lower(), out.stdout
        assert out.stdout.count("\tSOA\t") >= 2


def test_signed_ordinary_query_gets_signed_reply(primary):
    q = dns.message.make_query(ORIGIN, "SOA")
    q.use_tsig(primary.keyring, KEY_NAME)
    for send in (dns.query.udp, dns.query.tcp):
        r = send(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
        assert r.had_tsig and r.rcode() == dns.rcode.NOERROR and r.answer


# ---- refusals -------------------------------------------------------------------------

def test_unsigned_axfr_refused(primary):
    q = dns.message.make_query(ORIGIN, "AXFR")
    r = parse(tcp_raw(primary.srv.target, q.to_wire()))
    assert r.rcode() == dns.rcode.REFUSED and not r.answer


def test_unsigned_rule_by_address_only(primary, tmp_path):
    # 127.0.0.77 may transfer without a key; 127.0.0.1 may not
    msgs = axfr_messages(primary.srv, source="127.0.0.77")
    assert transferred_set(msgs) == file_set(primary.zone)


def test_unknown_key_badkey(primary):
    ring = dns.tsigkeyring.from_text({"other.": ("hmac-sha256", primary.secret)})
    q = dns.message.make_query(ORIGIN, "AXFR")
    q.use_tsig(ring, "other.")
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.query.tcp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)


def test_wrong_secret_badsig(primary):
    ring = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", base64.b64encode(b"w" * 32).decode())})
    q = dns.message.make_query(ORIGIN, "AXFR")
    q.use_tsig(ring, KEY_NAME)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.tcp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)

    # The primary says why (a secondary with a wrong secret sees only failures).
    # The line is rate-limited (one a second, shared with BADKEY's): ask again
    # until it shows.
    def logged():
        with pytest.raises(dns.tsig.PeerBadSignature):
            dns.query.tcp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
        return "BADSIG (wrong secret or algorithm)" in primary.srv.log_text()
    wait_until(logged, BOUND_S, "the BADSIG logged", interval=0.2)


def test_bad_time_badtime_signed(primary):
    q = dns.message.make_query(ORIGIN, "SOA")
    q.use_tsig(primary.keyring, KEY_NAME)
    with mock.patch("time.time", return_value=time.time() - 3600):
        wire = q.to_wire()
    raw = udp_raw(primary.srv.target, wire)
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(raw, keyring=primary.keyring, request_mac=q.mac)


def tsig_with_mac_len(wire: bytes, keep: int) -> bytes:
    """The signed query `wire` with its TSIG MAC cut to `keep` bytes (sizes fixed up).
    Layout of our TSIG: owner transfer. (10), fixed (10), hmac-sha256. (13), time (6),
    fudge (2), MAC size (2), MAC (32), original ID, error, other length (6)."""
    start = len(wire) - 81
    owner, fixed, rd = wire[start:start + 10], wire[start + 10:start + 20], wire[start + 20:]
    alg, timers, mac, tail = rd[:13], rd[13:21], rd[23:55], rd[55:]
    rdata = alg + timers + struct.pack("!H", keep) + mac[:keep] + tail
    return wire[:start] + owner + fixed[:8] + struct.pack("!H", len(rdata)) + rdata


def test_truncated_mac_formerr_and_cut_record_formerr(primary):
    q = dns.message.make_query(ORIGIN, "SOA")
    q.use_tsig(primary.keyring, KEY_NAME)
    wire = q.to_wire()
    assert wire[-81:-71] == b"\x08transfer\x00"
    # RFC 8945 §5.2.2.1: a MAC shorter than 10 bytes and half the hash is malformed
    r = udp_raw(primary.srv.target, tsig_with_mac_len(wire, 4))
    assert struct.unpack("!H", r[2:4])[0] & 0xF == dns.rcode.FORMERR
    # a record that ends before its RDLENGTH says: the message is malformed
    r = udp_raw(primary.srv.target, wire[:-10])
    assert struct.unpack("!H", r[2:4])[0] & 0xF == dns.rcode.FORMERR
    # 16 of 32 bytes is truncation, which we do not accept: BADTRUNC, signed
    r = udp_raw(primary.srv.target, tsig_with_mac_len(wire, 16))
    assert struct.unpack("!H", r[2:4])[0] & 0xF == dns.rcode.NOTAUTH
    with pytest.raises(dns.tsig.PeerBadTruncation):
        dns.message.from_wire(r, keyring=primary.keyring, request_mac=q.mac)


def test_axfr_over_udp_notimp(primary):
    q = dns.message.make_query(ORIGIN, "AXFR")
    q.use_tsig(primary.keyring, KEY_NAME)
    r = dns.message.from_wire(udp_raw(primary.srv.target, q.to_wire()),
                              keyring=primary.keyring, request_mac=q.mac)
    assert r.rcode() == dns.rcode.NOTIMP and not r.answer


@pytest.mark.parametrize("qname,rcode", [("not-served.test.", dns.rcode.NOTAUTH),
                                          ("www.example.test.", dns.rcode.NOTAUTH)])
def test_axfr_of_no_zone_notauth(primary, qname, rcode):
    q = dns.message.make_query(qname, "AXFR")
    q.use_tsig(primary.keyring, KEY_NAME)
    r = dns.query.tcp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
    assert r.rcode() == rcode and not r.answer


# ---- IXFR -----------------------------------------------------------------------------

def ixfr_query(serial, keyring, with_soa=True):
    q = dns.message.make_query(ORIGIN, "IXFR")
    if with_soa:
        q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    q.use_tsig(keyring, KEY_NAME)
    return q


@pytest.mark.parametrize("serial", [2024060101, 2024060102, 4000000000])
def test_ixfr_up_to_date_or_newer_gets_single_soa(primary, serial):
    # 4000000000 is "older" than 2024060101 by RFC 1982? no: it is 1.97e9 ahead (< 2^31): newer
    for send in (dns.query.tcp, dns.query.udp):
        q = ixfr_query(serial, primary.keyring)
        r = send(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
        assert r.rcode() == dns.rcode.NOERROR and r.had_tsig
        assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA]
        assert r.answer[0][0].serial == 2024060101


def test_ixfr_over_udp_older_serial_single_soa(primary):
    q = ixfr_query(2024010101, primary.keyring)
    r = dns.query.udp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA], "RFC 1995 §2: try TCP"


def test_ixfr_older_serial_gets_full_zone(primary):
    msgs = axfr_messages(primary.srv, primary.keyring, KEY_NAME, rdtype="IXFR", serial=2024010101)
    assert transferred_set(msgs) == file_set(primary.zone)


def test_ixfr_without_soa_formerr(primary):
    q = ixfr_query(0, primary.keyring, with_soa=False)
    r = dns.query.tcp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S)
    assert r.rcode() == dns.rcode.FORMERR


# ---- the cap on concurrent transfers, clients that do not read ------------------------
# The zone is larger than what the kernel buffers for a client that reads nothing
# (the send buffer grows to tcp_wmem's 4 MiB), so such a transfer stays running.

@pytest.fixture(scope="module")
def big_primary(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xfr-big")
    zone = big_zone(tmp / "example.test.zone", 250000)
    tok = tmp / "ops.token"
    tok.write_text("t" * 40 + "\n")
    tok.chmod(0o600)
    api_port = free_port()
    p = Primary(tmp, zone, [{"from": "127.0.0.0/8", "key": "transfer"}],
                extra={"transfers": {"max_concurrent": 4}, "state_dir": str(tmp / "state"),
                       "api": {"listen": f"127.0.0.1:{api_port}", "read_without_token": True,
                               "tokens": [{"name": "ops", "file": str(tok),
                                           "scope": "admin"}]}})
    p.metrics_url = f"http://127.0.0.1:{api_port}/metrics"
    p.srv.start()
    yield p
    p.srv.stop()


def stalled_axfr(server, keyring) -> socket.socket:
    """An AXFR whose client reads nothing, with a tiny receive buffer: it holds its slot."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(BOUND_S)
    s.connect(server.target)
    q = dns.message.make_query(ORIGIN, "AXFR")
    if keyring is not None:
        q.use_tsig(keyring, KEY_NAME)
    w = q.to_wire()
    s.sendall(struct.pack("!H", len(w)) + w)
    return s


def read_first_rcode(s) -> int:
    """The rcode of the first message on an AXFR socket; the rest stays unread."""
    deadline = time.monotonic() + BOUND_S
    n = struct.unpack("!H", recv_exact(s, 2, deadline))[0]
    return struct.unpack("!H", recv_exact(s, n, deadline)[2:4])[0] & 0xF


def first_message_rcode(p) -> int:
    """The rcode of the first message of a signed AXFR (the rest is not read)."""
    s = stalled_axfr(p.srv, p.keyring)
    try:
        return read_first_rcode(s)
    finally:
        s.close()


def held_transfer(p) -> socket.socket:
    """A running transfer that holds a slot: its first message came (NOERROR), and the
    client reads no further. Waiting for that message means no probe can take the slot
    before this transfer has it."""
    s = stalled_axfr(p.srv, p.keyring)
    rcode = read_first_rcode(s)
    assert rcode == dns.rcode.NOERROR, f"a held transfer got {dns.rcode.to_text(rcode)}"
    return s


def xfr_metrics(p) -> dict:
    """sovdns_xfr_out_* samples of GET /metrics: {'name{labels}': value}."""
    import requests
    text = requests.get(p.metrics_url, timeout=BOUND_S).text
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if ln.startswith("sovdns_xfr_out_")}


def test_concurrent_cap_servfail_then_recovers_udp_goes_on(big_primary):
    p = big_primary
    held = []
    m0 = xfr_metrics(p)
    try:
        for _ in range(4):
            held.append(held_transfer(p))
        assert first_message_rcode(p) == dns.rcode.SERVFAIL, \
            "the 5th transfer gets SERVFAIL (max_concurrent 4)"
        m = xfr_metrics(p)
        assert m["sovdns_xfr_out_active"] == 4
        assert m['sovdns_xfr_out_refused_total{reason="busy"}'] == \
            m0['sovdns_xfr_out_refused_total{reason="busy"}'] + 1
        r = dns.query.udp(dns.message.make_query("www.example.test.", "A"), p.srv.addr,
                          port=p.srv.port, timeout=BOUND_S)
        assert r.rcode() == dns.rcode.NOERROR, "UDP answering stops during transfers"
    finally:
        for s in held:
            s.close()
    wait_until(lambda: first_message_rcode(p) == dns.rcode.NOERROR, BOUND_S,
               "slots are released when clients go away")
    wait_until(lambda: "stopped after" in p.srv.log_text(), BOUND_S, "the cut transfers logged")
    wait_until(lambda: xfr_metrics(p)['sovdns_xfr_out_total{result="failed"}']
               >= m0['sovdns_xfr_out_total{result="failed"}'] + 4, BOUND_S,
               "the 4 transfers cut short counted as failed")


def test_hundred_parallel_attempts(big_primary):
    p = big_primary
    socks = []
    try:
        for _ in range(100):
            socks.append(stalled_axfr(p.srv, p.keyring))
        r = dns.query.udp(dns.message.make_query(ORIGIN, "SOA"), p.srv.addr,
                          port=p.srv.port, timeout=BOUND_S)
        assert r.answer
    finally:
        for s in socks:
            s.close()
    assert p.srv.alive()
    wait_until(lambda: first_message_rcode(p) == dns.rcode.NOERROR, BOUND_S,
               "transfers work again")


# ---- a reload during a transfer -------------------------------------------------------

def test_reload_during_transfer_sends_one_version(tmp_path):
    zone = big_zone(tmp_path / "z.zone", 20000, serial=100)
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8"}])
    p.srv.start()
    try:
        s = stalled_axfr(p.srv, None)
        first = recv_exact(s, 2, time.monotonic() + BOUND_S)
        n = struct.unpack("!H", first)[0]
        msg1 = recv_exact(s, n, time.monotonic() + BOUND_S)
        big_zone(zone, 10, serial=101)
        p.srv.reload()
        wait_until(lambda: dns.query.udp(dns.message.make_query(ORIGIN, "SOA"), p.srv.addr,
                                         port=p.srv.port, timeout=2).answer[0][0].serial == 101,
                   BOUND_S, "the reload is served")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        serials, count = [], 0
        data = msg1
        deadline = time.monotonic() + BOUND_S
        while True:
            m = dns.message.from_wire(data, one_rr_per_rrset=True)
            for rrset in m.answer:
                count += 1
                if rrset.rdtype == dns.rdatatype.SOA:
                    serials.append(rrset[0].serial)
            if len(serials) == 2:
                break
            n = struct.unpack("!H", recv_exact(s, 2, deadline))[0]
            data = recv_exact(s, n, deadline)
        s.close()
        assert serials == [100, 100], "a transfer mixes two versions"
        assert count > 20000
        msgs = axfr_messages(p.srv)
        assert msgs[0].answer[0][0].serial == 101
    finally:
        p.srv.stop()


# ---- transfer threads: the connection after a transfer, slow readers, shutdown ---------
# A transfer out runs on a thread of its own (dns/tcp.c); the worker hands the
# connection over and takes it back.

def frame(q: dns.message.Message) -> bytes:
    w = q.to_wire()
    return struct.pack("!H", len(w)) + w


def read_msg(s, deadline) -> dns.message.Message:
    n = struct.unpack("!H", recv_exact(s, 2, deadline))[0]
    return dns.message.from_wire(recv_exact(s, n, deadline), one_rr_per_rrset=True)


def read_axfr(s, qid, deadline) -> int:
    """Reads one AXFR's messages (ID qid) up to its closing SOA; the number of records."""
    soas = count = 0
    while soas < 2:
        m = read_msg(s, deadline)
        assert m.id == qid and m.rcode() == dns.rcode.NOERROR, m
        for rrset in m.answer:
            count += 1
            soas += rrset.rdtype == dns.rdatatype.SOA
    return count


def read_to_end(s, deadline):
    """Reads s until the server's close shows (EOF or a reset); NoReply past deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply("the server did not close the connection")
        s.settimeout(left)
        try:
            if not s.recv(1 << 16):
                return
        except ConnectionResetError:
            return
        except socket.timeout:
            raise NoReply("the server did not close the connection") from None


def test_connection_reused_after_transfer(tmp_path):
    """RFC 5936 §4.1, RFC 7766 §6.2.1: queries pipelined behind an AXFR, and ones sent
    after it, are answered on the same connection, in order; a second AXFR works too."""
    zone = big_zone(tmp_path / "z.zone", 20000)
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8"}])
    p.srv.start()
    try:
        with socket.create_connection(p.srv.target, timeout=BOUND_S) as s:
            deadline = time.monotonic() + BOUND_S * 3
            axfr = dns.message.make_query(ORIGIN, "AXFR")
            soa = dns.message.make_query(ORIGIN, "SOA")
            www = dns.message.make_query("www.example.test.", "A")
            before = dns.message.make_query("www.example.test.", "AAAA")
            s.sendall(frame(before) + frame(axfr) + frame(soa) + frame(www))
            r = read_msg(s, deadline)
            assert r.id == before.id and r.rcode() == dns.rcode.NOERROR, r
            count = read_axfr(s, axfr.id, deadline)
            assert count > 20000
            for q in (soa, www):
                r = read_msg(s, deadline)
                assert r.id == q.id and r.rcode() == dns.rcode.NOERROR and r.answer, r
            again = dns.message.make_query(ORIGIN, "AXFR")
            s.sendall(frame(again))
            assert read_axfr(s, again.id, deadline) == count
            last = dns.message.make_query(ORIGIN, "NS")
            s.sendall(frame(last))
            r = read_msg(s, deadline)
            assert r.id == last.id and r.answer
    finally:
        p.srv.stop()


def test_reader_that_stops_reading_times_out_and_frees_the_slot(tmp_path):
    """A client that stops reading is dropped after tcp.idle_timeout_ms, and its slot
    (max_concurrent 1 here) serves the next transfer."""
    zone = big_zone(tmp_path / "z.zone", 250000)
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8", "key": "transfer"}],
                extra={"transfers": {"max_concurrent": 1}, "tcp": {"idle_timeout_ms": 500}})
    p.srv.start()
    try:
        held = held_transfer(p)
        try:
            wait_until(lambda: "stopped reading" in p.srv.log_text(), BOUND_S,
                       "the stalled transfer is stopped")
            read_to_end(held, time.monotonic() + BOUND_S)
        finally:
            held.close()
        # (a full transfer here could itself be cut: a reader slower than the kernel
        # frees buffer space may leave the send blocked for 500 ms, as this one did)
        assert first_message_rcode(p) == dns.rcode.NOERROR, "the slot is still held"
    finally:
        p.srv.stop()


def test_parallel_axfrs_while_udp_is_answered(tmp_path):
    """Eight transfers at once (four held by clients that do not read, four read in full
    by dnspython): every UDP query is answered meanwhile, every full transfer is whole."""
    import threading
    zone = big_zone(tmp_path / "z.zone", 20000)
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8", "key": "transfer"}],
                extra={"transfers": {"max_concurrent": 8}, "tcp": {"idle_timeout_ms": 600000}})
    p.srv.start()
    held, results, errors = [], [], []

    def reader():
        try:
            results.append(transferred_set(axfr_messages(p.srv, p.keyring, KEY_NAME)))
        except Exception as e:  # reported below, with the thread's error
            errors.append(repr(e))
    try:
        for _ in range(4):
            held.append(held_transfer(p))
        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        answered = 0
        while any(t.is_alive() for t in threads) or answered < 20:
            r = dns.query.udp(dns.message.make_query("www.example.test.", "A"), p.srv.addr,
                              port=p.srv.port, timeout=BOUND_S)
            assert r.rcode() == dns.rcode.NOERROR and r.answer
            answered += 1
        for t in threads:
            t.join(BOUND_S * 3)
        assert not errors, errors
        assert len(results) == 4 and all(r == file_set(zone) for r in results)
    finally:
        for s in held:
            s.close()
        p.srv.stop()


def test_sigterm_during_transfers_exits_cleanly(tmp_path):
    """SIGTERM while transfers run (three stalled clients, one reading): the server
    exits with status 0 at once (the transfer threads see the stop), logging each
    transfer as cut short; the ASan build also finds no leak."""
    zone = big_zone(tmp_path / "z.zone", 250000)
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8", "key": "transfer"}],
                extra={"tcp": {"idle_timeout_ms": 600000}})
    p.srv.start()
    held = []
    try:
        for _ in range(3):
            held.append(held_transfer(p))
        rc = p.srv.stop()
        assert rc == 0, f"exit status {rc}\n{p.srv.log_text()[-3000:]}"
        text = p.srv.log_text()
        assert text.count("stopped after") >= 3, text[-3000:]
        assert "shutting down" in text
    finally:
        for s in held:
            s.close()
        p.srv.stop()


# ---- configuration errors -------------------------------------------------------------

def check_config(tmp_path, conf: dict) -> subprocess.CompletedProcess:
    import json
    path = tmp_path / "c.json"
    path.write_text(json.dumps(conf, indent=1))
    return subprocess.run([str(default_sovdns_bin()), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=BOUND_S)


def base_conf(allow, keys):
    return {"listen": ["127.0.0.1:53000"], "tsig": {"keys": keys},
            "zones": [{"origin": "example.test", "file": str(ZONES_DIR / "example.test.zone"),
                       "transfer": {"allow": allow}}]}


def test_config_key_file_readable_by_others(tmp_path):
    make_key(tmp_path / "k.key")
    (tmp_path / "k.key").chmod(0o644)
    r = check_config(tmp_path, base_conf([{"from": "127.0.0.1"}], [{"file": "k.key"}]))
    assert r.returncode != 0 and "k.key" in r.stderr and "chmod" in r.stderr, r.stderr


@pytest.mark.parametrize("keys,allow,want", [
    ([{"file": "k.key", "name": "other"}], [{"from": "127.0.0.1"}], "differs from the name"),
    ([{"file": "k.key"}], [{"from": "127.0.0.1", "key": "nokey"}], 'no key "nokey" in tsig.keys'),
    ([{"file": "k.key"}], [{"from": "127.0.0.1", "key": "transfr"}],
     'no key "transfr" in tsig.keys (did you mean "transfer"?)'),
    ([{"file": "k.key"}], [{"from": "127.0.0.1/8"}], "is not an IP network"),
    ([{"file": "k.key"}], [{"frm": "127.0.0.1"}], 'did you mean "from"'),
    ([{"file": "k.key"}, {"file": "k.key"}], [{"from": "::1"}],
     "defined twice (first as tsig.keys[0])"),
    ([{"file": "missing.key"}], [{"from": "::1"}], "missing.key"),
])
def test_config_errors_point_at_the_value(tmp_path, keys, allow, want):
    make_key(tmp_path / "k.key")
    r = check_config(tmp_path, base_conf(allow, keys))
    assert r.returncode != 0, r.stdout
    assert want in r.stderr, r.stderr
    assert "c.json:" in r.stderr and r.stderr.split("c.json:")[1].split(":")[0].isdigit(), r.stderr
    assert (tmp_path / "k.key").read_text().split(":")[2].strip() not in r.stderr


def test_config_md5_needs_allowing(tmp_path):
    make_key(tmp_path / "k.key", alg="hmac-md5")
    r = check_config(tmp_path, base_conf([{"from": "::1"}], [{"file": "k.key"}]))
    assert r.returncode != 0 and "allow_hmac_md5" in r.stderr, r.stderr
    conf = base_conf([{"from": "::1"}], [{"file": "k.key"}])
    conf["tsig"]["allow_hmac_md5"] = True
    r = check_config(tmp_path, conf)
    assert r.returncode == 0, r.stderr


def test_config_bare_secret_needs_name(tmp_path):
    (tmp_path / "bare.key").write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    (tmp_path / "bare.key").chmod(0o600)
    r = check_config(tmp_path, base_conf([{"from": "::1"}], [{"file": "bare.key"}]))
    assert r.returncode != 0 and 'needs "name"' in r.stderr, r.stderr
    r = check_config(tmp_path, base_conf([{"from": "::1", "key": "k"}],
                                         [{"file": "bare.key", "name": "k",
                                           "algorithm": "hmac-sha512"}]))
    assert r.returncode == 0, r.stderr


def test_config_wrapped_secret_is_refused(tmp_path):
    """openssl rand -base64 64 wraps its output: such a file is refused (with how
    to join it), not cut to its first line, which kdig would then disagree with."""
    import subprocess
    out = subprocess.run(["openssl", "rand", "-base64", "64"], capture_output=True, text=True,
                         check=True).stdout
    assert out.count("\n") == 2  # the premise: two lines
    (tmp_path / "w.key").write_text(out)
    (tmp_path / "w.key").chmod(0o600)
    keys = [{"file": "w.key", "name": "w", "algorithm": "hmac-sha512"}]
    r = check_config(tmp_path, base_conf([{"from": "::1", "key": "w"}], keys))
    assert r.returncode != 0 and "goes on after its first line" in r.stderr, r.stderr
    assert "w.key" in r.stderr and out.split()[0] not in r.stderr
    (tmp_path / "w.key").write_text(out.replace("\n", "") + "\n\n")
    r = check_config(tmp_path, base_conf([{"from": "::1", "key": "w"}], keys))
    assert r.returncode == 0, r.stderr


# ---- geo services in a transfer -------------------------------------------------------

def test_services_go_out_as_all_their_public_addresses(tmp_path):
    zone = tmp_path / "example.test.zone"
    zone.write_text((ZONES_DIR / "example.test.zone").read_text())
    geo = {"datacenters": [
               {"id": "a", "location": {"lat": 50, "lon": 8}, "ipv4": ["192.0.2.10"],
                "ipv6": ["2001:db8::10"], "internal": {"nets": ["10.0.0.0/8"], "ipv4": ["10.9.9.9"]}},
               {"id": "b", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.10", "192.0.2.10"]}],
           "services": [{"name": "geo.example.test", "policy": "nearest",
                         "datacenters": ["b", "a"], "ttl": 42}]}
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8", "key": "transfer"}], extra=geo)
    p.srv.start()
    try:
        got = transferred_set(axfr_messages(p.srv, p.keyring, KEY_NAME))
        mine = {r for r in got if r[0] == "geo.example.test."}
        assert mine == {("geo.example.test.", 42, "A", "198.51.100.10"),
                        ("geo.example.test.", 42, "A", "192.0.2.10"),
                        ("geo.example.test.", 42, "AAAA", "2001:db8::10")}, mine
        assert got - mine == file_set(zone)
    finally:
        p.srv.stop()


@pytest.mark.parametrize("choice,want", [
    ("first", {("geo.example.test.", 42, "A", "198.51.100.10"),
               ("geo.example.test.", 42, "A", "192.0.2.10")}),
    (["a"], {("geo.example.test.", 42, "A", "192.0.2.10"),
             ("geo.example.test.", 42, "AAAA", "2001:db8::10")}),
    ("all", {("geo.example.test.", 42, "A", "198.51.100.10"),
             ("geo.example.test.", 42, "A", "192.0.2.10"),
             ("geo.example.test.", 42, "AAAA", "2001:db8::10")}),
])
def test_service_transfer_setting(tmp_path, choice, want):
    """A service's "transfer" picks whose addresses go out: "first" (the
    service's first datacenter, b here), a list, or "all" (the default)."""
    zone = tmp_path / "example.test.zone"
    zone.write_text((ZONES_DIR / "example.test.zone").read_text())
    geo = {"datacenters": [
               {"id": "a", "location": {"lat": 50, "lon": 8}, "ipv4": ["192.0.2.10"],
                "ipv6": ["2001:db8::10"]},
               {"id": "b", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.10", "192.0.2.10"]}],
           "services": [{"name": "geo.example.test", "policy": "failover",
                         "datacenters": ["b", "a"], "ttl": 42, "transfer": choice}]}
    p = Primary(tmp_path, zone, [{"from": "127.0.0.0/8", "key": "transfer"}], extra=geo)
    p.srv.start()
    try:
        got = transferred_set(axfr_messages(p.srv, p.keyring, KEY_NAME))
        assert {r for r in got if r[0] == "geo.example.test."} == want
    finally:
        p.srv.stop()


def test_service_transfer_setting_errors(tmp_path):
    zone = tmp_path / "example.test.zone"
    zone.write_text((ZONES_DIR / "example.test.zone").read_text())
    for bad, says in (("some", '"transfer" must be "all", "first" or a list'),
                      (["c"], 'unknown datacenter'),
                      (["a"], 'datacenter "a" is not one of the service\'s')):
        geo = {"datacenters": [
                   {"id": "a", "location": {"lat": 50, "lon": 8}, "ipv4": ["192.0.2.10"]},
                   {"id": "b", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.10"]},
                   {"id": "c2", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.11"]}],
               "services": [{"name": "geo.example.test", "policy": "failover",
                             "datacenters": ["b", "c2"], "transfer": bad}]}
        conf = tmp_path / "c.json"
        conf.write_text(json.dumps({"listen": ["127.0.0.1:53"],
                                    "zones": [{"origin": "example.test", "file": str(zone)}],
                                    **geo}))
        r = subprocess.run([default_sovdns_bin(), "--check-config", conf], capture_output=True,
                           text=True, timeout=BOUND_S)
        assert r.returncode != 0 and says in r.stderr, (bad, r.stderr)
        assert f"{conf}:1:" in r.stderr
