"""sovdns as the primary of real Knot, NSD and BIND secondaries (TSIG-signed
transfers, RFC 5936 / RFC 1995 / RFC 8945): each secondary's zone equals what
sovdns serves (static records and the geo services' static A/AAAA), and a
change + reload reaches each one at its next refresh (the zone's SOA refresh is
2 s here; sovdns NOTIFYs only the zone's NS addresses, documentation addresses
that are not these secondaries: test_notify_out.py tests NOTIFY), by an IXFR
that sovdns answers from its journal with the differences (RFC 1995 §4), which
each secondary applies."""

from __future__ import annotations

import re

import dns.query
import dns.rdatatype
import pytest

from conftest import start_or_fail, stop_and_check
from sovtest.paths import ZONES_DIR
from sovtest.peers import SECONDARIES, TsigKey, zone_rrsets
from sovtest.servers import Sovdns
from sovtest.wait import wait_until

ORIGIN = "example.test."
SERIAL = 2024060101

GEO = {"datacenters": [
           {"id": "a", "location": {"lat": 50, "lon": 8}, "ipv4": ["192.0.2.10"],
            "ipv6": ["2001:db8::10"]},
           {"id": "b", "location": {"lat": 40, "lon": -74}, "ipv4": ["198.51.100.10"]}],
       "services": [{"name": "geo.example.test", "policy": "nearest",
                     "datacenters": ["a", "b"], "ttl": 60}]}


def zone_text(serial: int, extra: str = "") -> str:
    text = (ZONES_DIR / "example.test.zone").read_text()
    # refresh 2 s, retry 1 s: the secondaries come back quickly without NOTIFY
    for old, new in ((f"{SERIAL} ; serial", f"{serial} ; serial"), ("7200       ; refresh", "2 ; refresh"),
                     ("3600       ; retry", "1 ; retry")):
        assert old in text, f"the suite zone's SOA changed: no {old!r}"
        text = text.replace(old, new, 1)
    return text + extra


# What each secondary logs for an incremental transfer it received (NSD logs
# no kind; sovdns's own log line says it sent differences).
IXFR_IN = {"knot": r"IXFR, incoming, remote .*, finished",
           "bind": r"Transfer completed: 1 messages, 5 records"}


def sovdns_records(srv) -> set:
    out = set()
    for m in dns.query.xfr(srv.addr, ORIGIN, port=srv.port, keyring=srv.key.dnspython_keyring(),
                           keyname=srv.key.name, relativize=False, timeout=20, lifetime=60):
        for rrset in m.answer:
            for rd in rrset:
                out.add((rrset.name.to_text(), rrset.ttl, dns.rdatatype.to_text(rd.rdtype),
                         rd.to_text()))
    return out


@pytest.fixture
def primary(tmp_path):
    key = TsigKey.generate("xfr-key")
    (tmp_path / "keys").mkdir()
    kf = tmp_path / "keys" / "xfr.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    zone = tmp_path / "example.test.zone"
    zone.write_text(zone_text(SERIAL))
    conf = {"tsig": {"keys": [{"file": str(kf)}]},
            "zones": [{"origin": "example.test", "file": str(zone),
                       "transfer": {"allow": [{"from": "127.0.0.0/8", "key": "xfr-key"}]}}],
            **GEO}
    srv = Sovdns(tmp_path / "sovdns", [("example.test", zone)], config_mode=True,
                 config_extra=conf)
    srv.key, srv.zone_path = key, zone
    start_or_fail(srv)
    yield srv
    stop_and_check(srv)


@pytest.mark.parametrize("kind", sorted(SECONDARIES))
def test_sovdns_primary_to_secondary(primary, tmp_path, kind):
    sec = SECONDARIES[kind](ORIGIN, [primary.target], primary.key, workdir=tmp_path / kind)
    start_or_fail(sec)
    try:
        sec.wait_serial(SERIAL)
        want = sovdns_records(primary)
        assert ("geo.example.test.", 60, "A", "198.51.100.10") in want
        assert zone_rrsets(sec.axfr()) == zone_rrsets(want)

        primary.zone_path.write_text(zone_text(SERIAL + 1, "\nadded 300 IN A 192.0.2.99\n"))
        primary.reload()
        sec.wait_serial(SERIAL + 1)
        got = sec.axfr()
        assert ("added.example.test.", 300, "A", "192.0.2.99") in got
        assert zone_rrsets(got) == zone_rrsets(sovdns_records(primary))
        # the secondary asked IXFR and got the differences
        wait_until(lambda: f"IXFR of example.test. from serial {SERIAL} to {SERIAL + 1}"
                   in primary.log_text(), what="sovdns logged an IXFR with differences")
        if kind in IXFR_IN:
            wait_until(lambda: re.search(IXFR_IN[kind], sec.log_text()),
                       what=f"{kind} logged an incoming IXFR")

        # a deletion and a changed TTL (deleted and added again) go out as differences too
        primary.zone_path.write_text(zone_text(SERIAL + 2, "\nadded 900 IN A 192.0.2.98\n"))
        primary.reload()
        sec.wait_serial(SERIAL + 2)
        got = sec.axfr()
        assert ("added.example.test.", 900, "A", "192.0.2.98") in got
        assert ("added.example.test.", 300, "A", "192.0.2.99") not in got
        assert zone_rrsets(got) == zone_rrsets(sovdns_records(primary))
        wait_until(lambda: f"IXFR of example.test. from serial {SERIAL + 1} to {SERIAL + 2}"
                   in primary.log_text(), what="sovdns logged the second IXFR")
    finally:
        stop_and_check(sec)
