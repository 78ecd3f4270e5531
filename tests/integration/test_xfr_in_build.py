"""A full transfer goes into the zone loader record by record (no text re-parse,
docs/transfers.md step 4): a zone that breaks a rule of zone files is refused
with the record's number in the transfer, whether or not we had data before;
what is served after a transfer is what the primary sent, and a restart without
the primary serves the kept copy (written after the zone was served) unchanged."""

from __future__ import annotations

import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import requests

from conftest import start_or_fail, stop_and_check
from sovtest.paths import BOUND_S
from sovtest.peers import TsigKey, zone_rrsets, zone_text_records
from test_xfr_in import (ORIGIN, SERIAL, FakePrimary, SovdnsSecondary, knot_and_secondary,
                         message, metric, query, serial_of, sovdns_axfr, wait_for,
                         zone_rrsets_of, zone_text)

EXTRA = """
mixed 300 IN TXT "a" "b c" "quote\\"d"
mixed 300 IN MX 10 Mail.Example.Test.
mixed 300 IN CAA 0 issue "letsencrypt.org"
_sip._tcp 300 IN SRV 0 5 5060 sip.example.test.
sip 300 IN NAPTR 100 10 "S" "SIP+D2T" "" _sip._tcp.example.test.
sip 300 IN A 192.0.2.26
unk 300 IN TYPE65280 \\# 3 0a0b0c
ptr 300 IN PTR Host.Example.Test.
"""


def refused_cases():
    return {
        # RFC 2181 §10.1: a CNAME beside other data (www has A records)
        "cname and other data": (
            [dns.rrset.from_text("www.example.test.", 300, "IN", "CNAME", "x.example.test.")],
            "CNAME at www.example.test. cannot coexist with other data"),
        # what no zone file can say (zone_lint refuses it there)
        "ttl above 2^31-1": (
            [dns.rrset.from_text("big.example.test.", 2147483648, "IN", "TXT", "big")],
            "TTL 2147483648 of TXT at big.example.test. is above 2147483647"),
        # data at a zone cut other than NS/DS
        "occluded": (
            [dns.rrset.from_text("cut.example.test.", 300, "IN", "NS", "ns.elsewhere.test."),
             dns.rrset.from_text("cut.example.test.", 300, "IN", "TXT", "hidden")],
            "TXT at cut.example.test. is occluded by the delegation"),
        # RFC 6672 §2.3: nothing below a DNAME
        "below a dname": (
            [dns.rrset.from_text("d.example.test.", 300, "IN", "DNAME", "other.test."),
             dns.rrset.from_text("x.d.example.test.", 300, "IN", "A", "192.0.2.7")],
            "A at x.d.example.test. is occluded by the DNAME at d.example.test."),
    }


@pytest.mark.parametrize("case", sorted(refused_cases()))
def test_zone_refused_by_file_rules(tmp_path, case):
    """The first transfer breaks a rule: nothing is served, no copy is kept, and
    the reason names the record (its number in the transfer) and the rule."""
    soa, rest = zone_rrsets_of(zone_text(SERIAL))
    bad, text = refused_cases()[case]
    prim = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + bad + [soa])])
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], None)
    try:
        start_or_fail(sec)
        source = "AXFR of example.test. from %s:%d, record " % prim.target
        wait_for("the refusal logged", lambda: text in sec.log_text(), log=sec.log_text)
        line = next(ln for ln in sec.log_text().splitlines() if text in ln)
        assert "fails the checks of a zone file" in line and source in line, line
        assert query(sec, ORIGIN, "SOA").rcode() == dns.rcode.SERVFAIL
        assert not sec.kept.exists()
        assert not list(sec.kept.parent.glob("*.xfr.*")) if sec.kept.parent.exists() else True
        assert metric(sec, "sovdns_secondary_rejected_total") >= 1
        z = requests.get(f"http://127.0.0.1:{sec.api_port}/v1/zones/example.test",
                         timeout=BOUND_S).json()
        assert text in z["secondary"]["last_error"]["message"], z
    finally:
        stop_and_check(sec)
        prim.close()


def test_served_and_kept_copy_are_what_was_sent(tmp_path):
    """Every record the primary sent is served (AXFR out of the secondary gives
    them back), the kept copy is written, and a restart with the primary gone
    serves the kept copy: the same records."""
    key = TsigKey.generate("out-key")
    soa, rest = zone_rrsets_of(zone_text(SERIAL, EXTRA))
    prim = FakePrimary(SERIAL, lambda q: [message(q, [soa] + rest + [soa])])
    sec = SovdnsSecondary(tmp_path / "sec", [prim.target], None, allow_key=key)
    sent = set()
    for rrset in [soa] + rest:
        for rd in rrset:
            sent.add((rrset.name.to_text().lower(), rrset.ttl,
                      dns.rdatatype.to_text(rd.rdtype), rd.to_text().lower()))
    try:
        start_or_fail(sec)
        wait_for("the transfer", lambda: serial_of(sec) == SERIAL, log=sec.log_text)
        before = sovdns_axfr(sec, key)
        # Names compare without case (the answer path compresses names in
        # RDATA against earlier ones, which may be spelled otherwise).
        assert {(n.lower(), t, ty, rd.lower()) for n, t, ty, rd in before} == sent
        # The copy follows the publication: wait for it, then restart without a primary.
        wait_for("the kept copy", lambda: sec.kept.exists() and
                 not list(sec.kept.parent.glob("*.xfr.*")), log=sec.log_text)
        assert "$TTL" in sec.kept.read_text()
        prim.close()
        sec.stop()
        start_or_fail(sec)
        assert serial_of(sec) == SERIAL
        assert sovdns_axfr(sec, key) == before
    finally:
        stop_and_check(sec)
        if not prim.stop.is_set():
            prim.close()


def test_ixfr_applied_to_the_served_zone_is_kept(tmp_path):
    """An IXFR from Knot is applied to the zone we serve; what is served then
    is the primary's new zone, and so is what a restart without the primary
    serves from the kept copy written after it."""
    key = TsigKey.generate("xfr-key")
    prim, sec = knot_and_secondary(tmp_path, key, allow_key=key)
    try:
        prim.set_secondaries([sec.target])
        new = zone_text(SERIAL + 1, 'added 300 IN TXT "by ixfr"\n').replace(
            "192.0.2.", "198.51.100.", 1)
        prim.update_zone(new)
        wait_for("the IXFR", lambda: serial_of(sec) == SERIAL + 1, log=sec.log_text)
        assert "IXFR from" in sec.log_text()
        want = zone_rrsets(zone_text_records(new, ORIGIN))
        assert zone_rrsets(sovdns_axfr(sec, key)) == want
        wait_for("the kept copy", lambda: str(SERIAL + 1) in sec.kept.read_text() and
                 not list(sec.kept.parent.glob("*.xfr.*")), log=sec.log_text)
        prim.stop()
        sec.stop()
        start_or_fail(sec)
        assert serial_of(sec) == SERIAL + 1
        assert zone_rrsets(sovdns_axfr(sec, key)) == want
    finally:
        stop_and_check(sec)
        prim.stop()
