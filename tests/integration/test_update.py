"""RFC 2136 dynamic updates, signed with TSIG (RFC 8945), against the real
daemon: nsupdate (UDP and TCP) and knsupdate add and delete a DNS-01 TXT,
dnspython checks every prerequisite rcode and the refusals of the policy,
an acknowledged update survives kill -9, it reaches secondaries by IXFR,
and a reload lays it over the zone file with a serial that never goes back
(docs/updates.md)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest

from conftest import start_or_fail, stop_and_check
from sovtest.paths import default_sovdns_bin
from sovtest.servers import Sovdns
from sovtest.wait import wait_until

ORIGIN = "example.test."
S0 = 100
BOUND_S = 10.0
ZONE = f"""$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 host {{serial}} 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
www IN TXT "file"
"""


class Primary:
    def __init__(self, tmp: Path, update: dict | None = None, extra: str = ""):
        self.dir = tmp
        self.secrets = {}
        keys = []
        for name in ("acme", "ops", "transfer"):
            self.secrets[name] = base64.b64encode(os.urandom(32)).decode()
            kf = tmp / "keys" / f"{name}.key"
            kf.parent.mkdir(parents=True, exist_ok=True)
            kf.write_text(f"hmac-sha256:{name}:{self.secrets[name]}\n")
            kf.chmod(0o600)
            keys.append({"file": f"keys/{name}.key"})
        self.zone = tmp / "example.test.zone"
        self.zone.write_text(ZONE.format(serial=S0) + extra)
        self.state = tmp / "state"
        pol = update or {"allow": [
            {"key": "acme", "names": ["_acme-challenge.*"], "types": ["TXT"]},
            {"key": "ops", "names": ["*"]},
            {"key": "ops", "names": ["@"], "types": ["NS"]}]}
        conf = {"tsig": {"keys": keys}, "state_dir": str(self.state),
                "zones": [{"origin": "example.test", "file": str(self.zone), "update": pol,
                           "transfer": {"allow": [{"from": ["127.0.0.0/8"],
                                                   "key": "transfer"}]}}]}
        self.srv = Sovdns(tmp, [("example.test", self.zone)], config_mode=True,
                          config_extra=conf, threads=2)

    def keyring(self, name="acme"):
        return dns.tsigkeyring.from_text({f"{name}.": ("hmac-sha256", self.secrets[name])})

    def query(self, name, rdtype):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, self.srv.addr, port=self.srv.port, timeout=2)

    def serial(self) -> int:
        return self.query(ORIGIN, "SOA").answer[0][0].serial

    def txt(self, name) -> set:
        r = self.query(name, "TXT")
        return {rd.to_text() for rrset in r.answer for rd in rrset}

    def send(self, upd, tcp=False):
        f = dns.query.tcp if tcp else dns.query.udp
        return f(upd, self.srv.addr, port=self.srv.port, timeout=BOUND_S)

    def update(self, key="acme"):
        return dns.update.UpdateMessage(ORIGIN, keyring=self.keyring(key), keyname=f"{key}.")

    def nsupdate(self, lines: str, key="acme", tcp=False, tool="nsupdate"):
        script = f"server {self.srv.addr} {self.srv.port}\nzone example.test\n{lines}\nsend\n"
        args = [tool, "-y", f"hmac-sha256:{key}:{self.secrets[key]}"]
        if tcp:
            args.append("-v")  # TCP, in both tools
        return subprocess.run(args, input=script, capture_output=True, text=True,
                              timeout=BOUND_S * 3)


@pytest.fixture
def primary(tmp_path):
    p = Primary(tmp_path)
    start_or_fail(p.srv)
    yield p
    stop_and_check(p.srv)


def raw_rcode(p, wire: bytes) -> int:
    """Sends wire over UDP and returns the reply's rcode, reading no TSIG."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(BOUND_S)
        s.sendto(wire, (p.srv.addr, p.srv.port))
        data = s.recv(4096)
    assert data[:2] == wire[:2] and data[2] & 0x80 and (data[2] >> 3) & 0xF == 5
    return data[3] & 0xF


@pytest.mark.parametrize("tool,tcp", [("nsupdate", False), ("nsupdate", True),
                                      ("knsupdate", False), ("knsupdate", True)])
def test_acme_txt_added_and_deleted(primary, tool, tcp):
    name = "_acme-challenge.www.example.test."
    r = primary.nsupdate(f"update add {name} 60 TXT \"token-1\"", tool=tool, tcp=tcp)
    assert r.returncode == 0, r.stderr + r.stdout
    assert primary.txt(name) == {'"token-1"'}
    assert primary.serial() == S0 + 1
    r = primary.nsupdate(f"update delete {name} TXT", tool=tool, tcp=tcp)
    assert r.returncode == 0, r.stderr + r.stdout
    assert primary.txt(name) == set()
    assert primary.serial() == S0 + 2


def test_policy_refusals(primary):
    # acme may only touch TXT at _acme-challenge names.
    r = primary.nsupdate("update add www.example.test. 60 A 192.0.2.9")
    assert r.returncode != 0 and "REFUSED" in r.stdout + r.stderr
    r = primary.nsupdate("update add www.example.test. 60 TXT \"x\"")
    assert r.returncode != 0 and "REFUSED" in r.stdout + r.stderr
    # a key no rule names
    u = primary.update("transfer")
    u.add("_acme-challenge", 60, "TXT", "x")
    assert primary.send(u).rcode() == dns.rcode.REFUSED
    # unsigned
    u = dns.update.UpdateMessage(ORIGIN)
    u.add("_acme-challenge", 60, "TXT", "x")
    assert primary.send(u).rcode() == dns.rcode.REFUSED
    # SOA is never granted, even to a key allowed every type
    u = primary.update("ops")
    u.replace("@", 300, "SOA", f"ns1 host {S0 + 50} 3600 600 86400 300")
    assert primary.send(u).rcode() == dns.rcode.REFUSED
    assert primary.serial() == S0
    assert "REFUSED" in primary.srv.log_text()


def test_rcodes_of_the_zone_section_and_tsig(primary):
    # NOTZONE: a record outside the zone (RFC 2136 §3.4.1.3)
    u = primary.update("ops")
    u.add("elsewhere.invalid.", 60, "A", "192.0.2.7")
    assert primary.send(u).rcode() == dns.rcode.NOTZONE
    # NOTAUTH: a zone we do not serve (§3.1.2)
    u = dns.update.UpdateMessage("other.test.", keyring=primary.keyring(), keyname="acme.")
    u.add("_acme-challenge", 60, "TXT", "x")
    assert primary.send(u).rcode() == dns.rcode.NOTAUTH
    # FORMERR: ZTYPE not SOA (§3.1.1)
    u = primary.update()
    u.question[0].rdtype = dns.rdatatype.A
    u.add("_acme-challenge", 60, "TXT", "x")
    assert raw_rcode(primary, u.to_wire()) == dns.rcode.FORMERR
    # NOTAUTH with BADSIG: a wrong secret (RFC 8945 §5.2.2)
    bad = dns.tsigkeyring.from_text({"acme.": ("hmac-sha256",
                                               base64.b64encode(b"w" * 32).decode())})
    u = dns.update.UpdateMessage(ORIGIN, keyring=bad, keyname="acme.")
    u.add("_acme-challenge", 60, "TXT", "x")
    assert raw_rcode(primary, u.to_wire()) == dns.rcode.NOTAUTH
    assert primary.serial() == S0


def test_prerequisites(primary):
    cases = [
        (lambda u: u.present("nothere"), dns.rcode.NXDOMAIN),
        (lambda u: u.absent("www"), dns.rcode.YXDOMAIN),
        (lambda u: u.present("www", "AAAA"), dns.rcode.NXRRSET),
        (lambda u: u.absent("www", "A"), dns.rcode.YXRRSET),
        (lambda u: u.present("www", "A", "192.0.2.99"), dns.rcode.NXRRSET),
    ]
    for prereq, rcode in cases:
        u = primary.update("ops")
        prereq(u)
        u.add("added", 60, "A", "192.0.2.50")
        r = primary.send(u)
        assert r.rcode() == rcode, (u, dns.rcode.to_text(r.rcode()))
    assert primary.query("added.example.test.", "A").answer == []
    assert primary.serial() == S0, "a failed prerequisite changes nothing"
    u = primary.update("ops")
    u.present("www", "A", "192.0.2.1")
    u.absent("added")
    u.add("added", 60, "A", "192.0.2.50")
    u.delete("www", "TXT", '"file"')
    assert primary.send(u, tcp=True).rcode() == dns.rcode.NOERROR
    assert primary.query("added.example.test.", "A").answer[0][0].to_text() == "192.0.2.50"
    assert primary.txt("www.example.test.") == set()
    assert primary.serial() == S0 + 1


def test_rfc2136_special_cases(primary):
    # a CNAME where other data is, and the last apex NS (NS granted only by
    # a rule that lists it): ignored, NOERROR (RFC 2136 §3.4.2.2, §3.4.2.4)
    u = primary.update("ops")
    u.add("www", 60, "CNAME", "ns1")
    u.delete("@", "NS")
    assert primary.send(u).rcode() == dns.rcode.NOERROR
    assert primary.serial() == S0, "nothing changed: the serial stays"
    assert primary.query(ORIGIN, "NS").answer


def test_replay_refused(primary):
    u = primary.update()
    u.add("_acme-challenge", 60, "TXT", "once")
    wire = u.to_wire()
    assert raw_rcode(primary, wire) == dns.rcode.NOERROR
    u = primary.update()
    u.delete("_acme-challenge", "TXT")
    assert primary.send(u).rcode() == dns.rcode.NOERROR
    assert raw_rcode(primary, wire) == dns.rcode.REFUSED
    assert primary.txt("_acme-challenge.example.test.") == set()


def test_kill9_restart_and_reload_keep_updates(primary):
    u = primary.update()
    u.add("_acme-challenge", 60, "TXT", "durable")
    assert primary.send(u).rcode() == dns.rcode.NOERROR
    os.kill(primary.srv.pid, signal.SIGKILL)
    primary.srv.proc.wait(timeout=BOUND_S)
    primary.srv.proc = None
    primary.srv.start()
    assert primary.txt("_acme-challenge.example.test.") == {'"durable"'}
    assert primary.serial() == S0 + 1
    # A reload of the same file keeps the data and the serial.
    primary.srv.reload()
    time.sleep(0.5)
    assert primary.serial() == S0 + 1
    # A file edited with a lower serial: content changed, the serial still goes up.
    primary.zone.write_text(ZONE.format(serial=S0) + "new IN A 192.0.2.60\n")
    primary.srv.reload()
    wait_until(lambda: primary.query("new.example.test.", "A").answer, what="reloaded")
    assert primary.serial() == S0 + 2
    assert primary.txt("_acme-challenge.example.test.") == {'"durable"'}
    # A file whose serial is greater wins, the dynamic data stays on top.
    primary.zone.write_text(ZONE.format(serial=S0 + 1000))
    primary.srv.reload()
    wait_until(lambda: primary.serial() == S0 + 1000, what="file serial served")
    assert primary.txt("_acme-challenge.example.test.") == {'"durable"'}


def test_update_reaches_ixfr(primary):
    u = primary.update()
    u.add("_acme-challenge", 60, "TXT", "via-ixfr")
    assert primary.send(u).rcode() == dns.rcode.NOERROR
    kr = primary.keyring("transfer")
    added = []
    for m in dns.query.xfr(primary.srv.addr, ORIGIN, rdtype="IXFR", serial=S0,
                           port=primary.srv.port, keyring=kr, keyname="transfer.",
                           timeout=BOUND_S, relativize=False):
        for rrset in m.answer:
            added += [(rrset.name.to_text(), rd.to_text()) for rd in rrset
                      if rrset.rdtype == dns.rdatatype.TXT]
    assert ("_acme-challenge.example.test.", '"via-ixfr"') in added


def test_limits(tmp_path):
    p = Primary(tmp_path, update={"allow": [{"key": "acme", "names": ["_acme-challenge.*"],
                                             "types": ["TXT"]}],
                                  "max_records_per_name": 3, "max_updates_per_s": 1})
    start_or_fail(p.srv)
    try:
        u = p.update()
        for i in range(4):
            u.add("_acme-challenge", 60, "TXT", f"t{i}")
        assert p.send(u).rcode() == dns.rcode.REFUSED
        # The rate: a bucket of two, one more a second. Counted against the
        # time the burst took, so the verdict does not depend on speed.
        start = time.monotonic()
        ok = 0
        for i in range(12):
            u = p.update()
            u.replace("_acme-challenge", 60, "TXT", f"r{i}")
            ok += p.send(u).rcode() == dns.rcode.NOERROR
        elapsed = time.monotonic() - start
        assert 1 <= ok <= 2 + int(elapsed) + 1, (ok, elapsed)
        assert "max_updates_per_s" in p.srv.log_text()
    finally:
        stop_and_check(p.srv)


def check_config(conf: dict, tmp: Path) -> subprocess.CompletedProcess:
    path = tmp / "c.json"
    path.write_text(json.dumps(conf))
    return subprocess.run([str(default_sovdns_bin()), "--check-config", str(path)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("update,state,expect", [
    ({"allow": [{"key": "acme", "names": ["*"]}]}, False, "state_dir"),
    ({"allow": [{"key": "nokey", "names": ["*"]}]}, True, "nokey"),
    ({"allow": [{"key": "acme", "names": ["*"], "types": ["SOA"]}]}, True, "SOA"),
    ({"allow": []}, True, "allow"),
])
def test_config_errors(tmp_path, update, state, expect):
    kf = tmp_path / "acme.key"
    kf.write_text("hmac-sha256:acme:" + base64.b64encode(b"k" * 32).decode() + "\n")
    kf.chmod(0o600)
    zone = tmp_path / "z.zone"
    zone.write_text(ZONE.format(serial=S0))
    conf = {"listen": ["127.0.0.1:5399"], "tsig": {"keys": [{"file": str(kf)}]},
            "zones": [{"origin": "example.test", "file": str(zone), "update": update}]}
    if state:
        conf["state_dir"] = str(tmp_path / "state")
    r = check_config(conf, tmp_path)
    assert r.returncode != 0 and expect in r.stderr + r.stdout, r.stderr + r.stdout
