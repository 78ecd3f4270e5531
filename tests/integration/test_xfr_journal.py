"""IXFR out from the journal (RFC 1995 §4): after a change + reload, an IXFR
from the old serial gets only the differences (sequential: SOA new, then per
step SOA old, deleted, SOA new, added, then SOA new), and applying them to
the old copy gives the new zone. The journal survives a restart (it is in
<state_dir>/journal/); a serial it does not hold gets the full zone; a
journal file edited or broken while sovdns was down is discarded with a
warning; one that cannot be written is a warning, never a failed reload.

Clients: dnspython (TSIG verified on every message) and kdig."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import pytest

from conftest import start_or_fail, stop_and_check
from sovtest.paths import ZONES_DIR
from sovtest.servers import Sovdns
from sovtest.wait import wait_until

ORIGIN = "example.test."
KEY_NAME = "transfer."
S0 = 2024060101
BOUND_S = 20.0

# Each version of the zone: what it adds to the suite's example.test.
V1 = "\ngone 300 IN A 192.0.2.200\nttl 300 IN TXT \"ttl changes\"\nkeep 300 IN A 192.0.2.201\n"
V2 = "\nttl 900 IN TXT \"ttl changes\"\nkeep 300 IN A 192.0.2.201\nnew 300 IN A 192.0.2.202\n"
V3 = V2 + "new 300 IN AAAA 2001:db8::202\n"


def zone_text(serial: int, extra: str) -> str:
    text = (ZONES_DIR / "example.test.zone").read_text()
    assert f"{S0} ; serial" in text, "the suite zone's SOA changed"
    return text.replace(f"{S0} ; serial", f"{serial} ; serial", 1) + extra


class Primary:
    def __init__(self, tmp: Path, extra_conf=None):
        self.dir = tmp
        self.secret = base64.b64encode(os.urandom(32)).decode()
        kf = tmp / "keys" / "transfer.key"
        kf.parent.mkdir(parents=True, exist_ok=True)
        kf.write_text(f"hmac-sha256:transfer:{self.secret}\n")
        kf.chmod(0o600)
        self.zone = tmp / "example.test.zone"
        self.zone.write_text(zone_text(S0, V1))
        self.state = tmp / "state"
        conf = {"tsig": {"keys": [{"file": "keys/transfer.key"}]},
                "state_dir": str(self.state),
                "zones": [{"origin": "example.test", "file": str(self.zone),
                           "transfer": {"allow": [{"from": ["127.0.0.0/8", "::1"],
                                                   "key": "transfer"}]}}]}
        conf.update(extra_conf or {})
        self.srv = Sovdns(tmp, [("example.test", self.zone)], config_mode=True,
                          config_extra=conf, threads=2)
        self.jnl = self.state / "journal" / "example.test.jnl"

    @property
    def keyring(self):
        return dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", self.secret)})

    def serial(self) -> int | None:
        q = dns.message.make_query(ORIGIN, "SOA")
        r = dns.query.udp(q, self.srv.addr, port=self.srv.port, timeout=2)
        return r.answer[0][0].serial if r.answer else None

    def change(self, serial: int, extra: str) -> None:
        """Writes a new version, reloads, waits until it is served."""
        self.zone.write_text(zone_text(serial, extra))
        self.srv.reload()
        wait_until(lambda: self.serial() == serial, what=f"serial {serial} served",
                   ignore=(OSError, dns.exception.DNSException))

    def xfr(self, rdtype="AXFR", serial=0) -> list:
        """The records of a transfer in wire order: [(name, ttl, type, rdata)]."""
        out = []
        for m in dns.query.xfr(self.srv.addr, ORIGIN, rdtype=rdtype, serial=serial,
                               port=self.srv.port, keyring=self.keyring, keyname=KEY_NAME,
                               timeout=BOUND_S, lifetime=BOUND_S * 3, relativize=False):
            assert m.had_tsig, "every message of a signed transfer is signed"
            for rrset in m.answer:
                for rd in rrset:
                    out.append((rrset.name.to_text().lower(), rrset.ttl,
                                dns.rdatatype.to_text(rd.rdtype), rd.to_text().lower()))
        return out


def udp_ixfr(primary, serial) -> list:
    """A signed IXFR over UDP: its records in wire order."""
    q = dns.message.make_query(ORIGIN, "IXFR", payload=1232)
    q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    q.use_tsig(primary.keyring, KEY_NAME)
    r = dns.query.udp(q, primary.srv.addr, port=primary.srv.port, timeout=BOUND_S,
                      one_rr_per_rrset=True)
    assert r.had_tsig and not r.flags & dns.flags.TC
    return [(rrset.name.to_text().lower(), rrset.ttl, dns.rdatatype.to_text(rd.rdtype),
             rd.to_text().lower()) for rrset in r.answer for rd in rrset]


def zone_of_serial(p, extra: str, serial: int) -> set:
    """What an AXFR of version (extra, serial) gave: the current AXFR with that
    version's records and SOA (built from the files, not from the server)."""
    import dns.zone
    z = dns.zone.from_text(zone_text(serial, extra), ORIGIN, relativize=False)
    out = set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            for rd in rds:
                out.add((name.to_text().lower(), rds.ttl, dns.rdatatype.to_text(rd.rdtype),
                         rd.to_text().lower()))
    return out


def soa_serial(rr) -> int:
    assert rr[2] == "SOA", rr
    return int(rr[3].split()[2])


def zone_of(axfr: list) -> set:
    """An AXFR as a set of records (the SOA once)."""
    assert axfr[0][2] == "SOA" and axfr[-1] == axfr[0]
    return set(axfr[:-1])


def apply_ixfr(old: set, ixfr: list) -> tuple[set, int]:
    """RFC 1995 §4 applied by hand: the new zone and the number of steps. Fails
    on anything out of order (a deletion of a record the copy does not have)."""
    new_serial = soa_serial(ixfr[0])
    assert ixfr[-1] == ixfr[0], "an IXFR ends with the SOA it started with"
    body, i, steps = ixfr[1:-1], 0, 0
    have = set(old)
    cur_soa = next(r for r in have if r[2] == "SOA")
    while i < len(body):
        assert body[i] == cur_soa, f"step {steps} starts with SOA {body[i]}, we have {cur_soa}"
        have.discard(body[i])
        i += 1
        while body[i][2] != "SOA":
            assert body[i] in have, f"deleting {body[i]}, which the copy does not have"
            have.discard(body[i])
            i += 1
        cur_soa = body[i]
        have.add(cur_soa)
        i += 1
        while i < len(body) and body[i][2] != "SOA":
            assert body[i] not in have, f"adding {body[i]} twice"
            have.add(body[i])
            i += 1
        steps += 1
    assert soa_serial(cur_soa) == new_serial
    return have, steps


@pytest.fixture
def primary(tmp_path):
    p = Primary(tmp_path)
    start_or_fail(p.srv)
    yield p
    stop_and_check(p.srv)


def test_ixfr_differences_apply_to_old_copy(primary):
    v1 = zone_of(primary.xfr())
    primary.change(S0 + 1, V2)
    v2 = zone_of(primary.xfr())
    ixfr = primary.xfr("IXFR", S0)
    got, steps = apply_ixfr(v1, ixfr)
    assert steps == 1 and got == v2
    # only the differences: 4 SOAs, gone + TXT(300) deleted, TXT(900) + new added
    assert len(ixfr) == 8, ixfr
    deleted, added = ixfr[2:4], ixfr[5:7]
    assert sorted(r[0] for r in deleted) == ["gone.example.test.", "ttl.example.test."]
    assert ("ttl.example.test.", 900, "TXT", '"ttl changes"') in added
    assert ("new.example.test.", 300, "A", "192.0.2.202") in added
    # logged when the connection's transfer is freed, maybe after our last read
    wait_until(lambda: f"IXFR of example.test. from serial {S0} to {S0 + 1}"
               in primary.srv.log_text(), what="the IXFR logged")
    assert primary.jnl.exists()


def test_ixfr_chain_and_restart(primary):
    v1 = zone_of(primary.xfr())
    primary.change(S0 + 1, V2)
    v2 = zone_of(primary.xfr())
    primary.change(S0 + 2, V3)
    v3 = zone_of(primary.xfr())
    for old, serial in ((v1, S0), (v2, S0 + 1)):
        got, steps = apply_ixfr(old, primary.xfr("IXFR", serial))
        assert got == v3 and steps == S0 + 2 - serial

    # a restart reads the journal back from state_dir
    stop_and_check(primary.srv)
    start_or_fail(primary.srv)
    got, steps = apply_ixfr(v1, primary.xfr("IXFR", S0))
    assert got == v3 and steps == 2
    assert "2 journal entries loaded" in primary.srv.log_text()

    # kdig asks IXFR=<serial> and gets the sequence of differences
    out = subprocess.run(
        ["kdig", "-y", f"hmac-sha256:transfer:{primary.secret}", "-p", str(primary.srv.port),
         f"@{primary.srv.addr}", "+tcp", "+noall", "+answer", ORIGIN, f"IXFR={S0 + 1}"],
        capture_output=True, text=True, timeout=BOUND_S, check=True).stdout
    lines = [ln.split() for ln in out.splitlines() if ln.strip() and not ln.startswith(";")]
    types = [ln[3] for ln in lines]
    assert types == ["SOA", "SOA", "SOA", "AAAA", "SOA"], out
    assert lines[3][0] == "new.example.test." and lines[3][4] == "2001:db8::202"

    # up to date: the SOA alone
    assert [r[2] for r in primary.xfr("IXFR", S0 + 2)] == ["SOA"]
    # over UDP: differences that fit one message come whole (RFC 1995 §2)
    got, steps = apply_ixfr(v1, udp_ixfr(primary, S0))
    assert got == v3 and steps == 2
    assert [r[2] for r in udp_ixfr(primary, S0 - 5)] == ["SOA"], "not in the journal: try TCP"


def test_serial_not_in_journal_gets_full_zone(primary):
    primary.change(S0 + 1, V2)
    full = primary.xfr("IXFR", S0 - 5)
    assert zone_of(full) == zone_of(primary.xfr())
    wait_until(lambda: "IXFR (full) of example.test." in primary.srv.log_text(),
               what="the full IXFR logged")


def test_zone_changed_while_down_discards_journal(primary):
    v1 = zone_of(primary.xfr())
    primary.change(S0 + 1, V2)
    stop_and_check(primary.srv)
    primary.zone.write_text(zone_text(S0 + 7, V3))  # the operator edits while we are down
    start_or_fail(primary.srv)
    log = primary.srv.log_text()
    assert f"ends at serial {S0 + 1} but the zone is at serial {S0 + 7}" in log
    full = primary.xfr("IXFR", S0)
    assert zone_of(full) == zone_of(primary.xfr()) != v1
    assert not primary.jnl.exists()
    # the next change starts a new journal
    primary.change(S0 + 8, V2)
    got, steps = apply_ixfr(zone_of(full), primary.xfr("IXFR", S0 + 7))
    assert steps == 1 and got == zone_of(primary.xfr())


def test_corrupt_journal_is_discarded(primary):
    primary.change(S0 + 1, V2)
    stop_and_check(primary.srv)
    data = bytearray(primary.jnl.read_bytes())
    data[len(data) // 2] ^= 0xFF
    primary.jnl.write_bytes(bytes(data))
    start_or_fail(primary.srv)
    assert "is not a journal we can read" in primary.srv.log_text()
    assert zone_of(primary.xfr("IXFR", S0)) == zone_of(primary.xfr())


def test_unwritable_journal_is_a_warning(primary):
    v1 = zone_of(primary.xfr())
    (primary.state / "journal").mkdir(parents=True, exist_ok=True)
    (primary.state / "journal").rmdir()
    (primary.state / "journal").write_text("not a directory\n")
    primary.change(S0 + 1, V2)  # the reload succeeds
    assert "cannot write" in primary.srv.log_text()
    got, _ = apply_ixfr(v1, primary.xfr("IXFR", S0))  # from memory
    assert got == zone_of(primary.xfr())


def test_bounds_from_configuration(tmp_path):
    p = Primary(tmp_path, {"transfers": {"journal_max_entries": 1}})
    start_or_fail(p.srv)
    try:
        p.change(S0 + 1, V2)
        v2 = zone_of(p.xfr())
        p.change(S0 + 2, V3)
        assert zone_of(p.xfr("IXFR", S0)) == zone_of(p.xfr()), "evicted: full zone"
        got, steps = apply_ixfr(v2, p.xfr("IXFR", S0 + 1))
        assert steps == 1 and got == zone_of(p.xfr())

        # raised, two steps kept; then lowered by a reload: the oldest goes at once
        conf = json.loads(p.srv.config_path.read_text())
        conf["transfers"] = {"journal_max_entries": 5}
        p.srv.config_path.write_text(json.dumps(conf))
        p.change(S0 + 3, V2)
        assert apply_ixfr(v2, p.xfr("IXFR", S0 + 1))[1] == 2
        conf["transfers"] = {"journal_max_entries": 1}
        p.srv.config_path.write_text(json.dumps(conf))
        p.srv.reload()
        wait_until(lambda: "reload: generation 5" in p.srv.log_text(), what="the reload")
        assert zone_of(p.xfr("IXFR", S0 + 1)) == zone_of(p.xfr()), "trimmed: full zone"
        assert apply_ixfr(zone_of_serial(p, V3, S0 + 2), p.xfr("IXFR", S0 + 2))[1] == 1
    finally:
        stop_and_check(p.srv)


def test_large_differences_span_signed_messages(primary):
    hosts = "".join(f"h{i} 300 IN A 10.0.{i // 256}.{i % 256}\n" for i in range(3000))
    primary.change(S0 + 1, V1 + hosts)
    v1 = zone_of(primary.xfr())
    moved = "".join(f"h{i} 300 IN A 10.1.{i // 256}.{i % 256}\n" for i in range(3000))
    primary.change(S0 + 2, V1 + moved)
    msgs = list(dns.query.xfr(primary.srv.addr, ORIGIN, rdtype="IXFR", serial=S0 + 1,
                              port=primary.srv.port, keyring=primary.keyring, keyname=KEY_NAME,
                              timeout=BOUND_S, lifetime=BOUND_S * 3, relativize=False))
    assert len(msgs) > 1 and all(m.had_tsig for m in msgs)
    ixfr = primary.xfr("IXFR", S0 + 1)
    assert len(ixfr) == 6000 + 4
    assert [r[2] for r in udp_ixfr(primary, S0 + 1)] == ["SOA"], "too large for UDP: try TCP"
    got, steps = apply_ixfr(v1, ixfr)
    assert steps == 1 and got == zone_of(primary.xfr())


def test_geo_service_records_are_in_the_differences(tmp_path):
    geo = {"datacenters": [
               {"id": "a", "location": {"lat": 50, "lon": 8}, "ipv4": ["192.0.2.10"]},
               {"id": "b", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.10"]}],
           "services": [{"name": "geo.example.test", "policy": "nearest",
                         "datacenters": ["a", "b"], "ttl": 60}]}
    p = Primary(tmp_path, geo)
    start_or_fail(p.srv)
    try:
        v1 = zone_of(p.xfr())
        assert ("geo.example.test.", 60, "A", "198.51.100.10") in v1
        conf = json.loads(p.srv.config_path.read_text())
        conf["datacenters"][1]["ipv4"] = ["198.51.100.11"]
        p.srv.config_path.write_text(json.dumps(conf))
        p.change(S0 + 1, V1)  # only the service's addresses (and the serial) change
        ixfr = p.xfr("IXFR", S0)
        assert ixfr[2:3] == [("geo.example.test.", 60, "A", "198.51.100.10")]
        assert ixfr[4:5] == [("geo.example.test.", 60, "A", "198.51.100.11")]
        got, steps = apply_ixfr(v1, ixfr)
        assert steps == 1 and got == zone_of(p.xfr())
    finally:
        stop_and_check(p.srv)


def test_zone_bounds_override_the_server_wide_ones(tmp_path):
    p = Primary(tmp_path, {"transfers": {"journal_max_entries": 5}})
    conf_zone = p.srv.config_extra["zones"][0]
    conf_zone["transfer"]["journal_max_entries"] = 0  # this zone keeps no journal
    start_or_fail(p.srv)
    try:
        p.change(S0 + 1, V2)
        wait_until(lambda: "reload: generation 2" in p.srv.log_text(), what="the reload")
        assert zone_of(p.xfr("IXFR", S0)) == zone_of(p.xfr()), "no journal: full zone"
        assert not p.jnl.exists()
    finally:
        stop_and_check(p.srv)


@pytest.mark.parametrize("where,value,want", [
    ("transfers", {"journal_max_bytes": 10},
     "transfers.journal_max_bytes is 10, out of range: must be from 4096"),
    ("transfers", {"journal_max_entries": -1},
     "transfers.journal_max_entries is -1, out of range: must be from 0"),
    ("zone", {"journal_max_bytes": "big"}, "zones[0].transfer.journal_max_bytes must be"),
    ("zone", {"journal_max": 3}, "journal_max"),
])
def test_bound_errors_point_at_the_value(tmp_path, where, value, want):
    p = Primary(tmp_path)
    conf = {"listen": ["127.0.0.1:53000"], **p.srv.config_extra}
    if where == "transfers":
        conf["transfers"] = value
    else:
        conf["zones"][0]["transfer"].update(value)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(conf, indent=1))
    r = subprocess.run([str(p.srv.binary), "--check-config", str(path)], capture_output=True,
                       text=True, timeout=BOUND_S, cwd=tmp_path)
    assert r.returncode != 0 and want in r.stderr and "c.json:" in r.stderr, r.stderr
