"""The transfer peers of sovtest/peers.py, proved on each other: real Knot, NSD
and BIND transfer the suite's zone with TSIG (AXFR, then IXFR after NOTIFY),
and a secondary with the wrong key gets nothing. sovdns is not involved: these
tests validate the harness the transfer tests of sovdns will use.
"""

from __future__ import annotations

import base64
import re

import dns.exception
import pytest

from conftest import start_or_fail, stop_and_check
from sovtest.paths import ZONES_DIR
from sovtest.peers import (LOOPBACK_NET, PRIMARIES, SECONDARIES, XFR_BOUND_S, KnotPrimary, TsigKey,
                           text_serial, zone_rrsets, zone_text_records)
from sovtest.wait import wait_until

ORIGIN = "example.test."
ZONE_TEXT = (ZONES_DIR / "example.test.zone").read_text()
SERIAL = text_serial(ZONE_TEXT, ORIGIN)


def updated(text: str) -> str:
    """The zone with the next serial, one record changed, one added, one removed."""
    new = text.replace(f"{SERIAL} ;", f"{SERIAL + 1} ;", 1)
    new = new.replace("192.0.2.25", "192.0.2.26")
    new = re.sub(r"^blog\s+CNAME.*$", "", new, count=1, flags=re.MULTILINE)
    new += "\nadded           A     192.0.2.99\n"
    assert new != text and text_serial(new, ORIGIN) == SERIAL + 1
    return new


@pytest.fixture
def peers(tmp_path):
    """peers(cls, *args, **kw) -> a started peer in its own tmp_path directory.
    Each is stopped at the end and must exit 0; a failing test shows their logs."""
    started = []

    def _start(cls, *args, **kw):
        peer = cls(*args, workdir=tmp_path / f"{cls.__name__}{len(started)}", **kw)
        started.append(peer)
        return start_or_fail(peer)

    yield _start
    errors = []
    for peer in started:
        try:
            stop_and_check(peer)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def test_tsig_key_forms():
    a, b = TsigKey.generate("xfr-key"), TsigKey.generate("xfr-key")
    assert a.secret != b.secret and len(a.secret) == 44  # 32 bytes, base64
    assert a.kdig_arg() == f"hmac-sha256:xfr-key:{a.secret}"
    (name, key), = a.dnspython_keyring().items()
    assert name.to_text() == "xfr-key." and key.secret == base64.b64decode(a.secret)


def test_zone_rrsets_ignores_order_and_name_case():
    recs = zone_text_records(ZONE_TEXT, ORIGIN)
    upper = {(n.upper(), t, ty, r.upper() if ty == "CNAME" else r) for n, t, ty, r in recs}
    assert zone_rrsets(upper) == zone_rrsets(recs)
    changed = set(recs)
    changed.remove(next(r for r in recs if r[2] == "A"))
    assert zone_rrsets(changed) != zone_rrsets(recs)


@pytest.mark.parametrize("kind", sorted(SECONDARIES))
def test_knot_primary_to_secondary_with_tsig(peers, kind):
    key = TsigKey.generate("xfr-key")
    primary = peers(KnotPrimary, ORIGIN, ZONE_TEXT, key)
    secondary = peers(SECONDARIES[kind], ORIGIN, [primary.target], key)
    assert secondary.serial() is None  # nothing before the primary allows it
    primary.set_secondaries([secondary.target])
    secondary.wait_serial(SERIAL)
    assert zone_rrsets(secondary.axfr()) == zone_rrsets(zone_text_records(ZONE_TEXT, ORIGIN))
    # Its own AXFR needs the key too.
    with pytest.raises(dns.exception.DNSException):
        secondary.axfr(key=TsigKey.generate("xfr-key"))


def test_update_reaches_secondaries_by_notify(peers):
    key = TsigKey.generate("xfr-key")
    primary = peers(KnotPrimary, ORIGIN, ZONE_TEXT, key)
    secondaries = [peers(SECONDARIES[k], ORIGIN, [primary.target], key)
                   for k in sorted(SECONDARIES)]
    primary.set_secondaries([s.target for s in secondaries])
    for s in secondaries:
        s.wait_serial(SERIAL)
    new = updated(ZONE_TEXT)
    assert primary.update_zone(new) == SERIAL + 1
    want = zone_rrsets(zone_text_records(new, ORIGIN))
    for s in secondaries:
        # The zone's refresh is 7200 s: within the bound only a NOTIFY brings it.
        s.wait_serial(SERIAL + 1, XFR_BOUND_S)
        assert zone_rrsets(s.axfr()) == want, s.kind
    knot = next(s for s in secondaries if s.kind == "knot")
    assert re.search(r"notify, incoming, remote .*serial %d" % (SERIAL + 1), knot.log_text())
    assert "IXFR, incoming" in knot.log_text()
    nsd = next(s for s in secondaries if s.kind == "nsd")
    assert re.search(r"notify for %s from .* serial %d" % (re.escape(ORIGIN), SERIAL + 1),
                     nsd.log_text())
    bind = next(s for s in secondaries if s.kind == "bind")
    assert re.search(r"notify from .*: serial %d" % (SERIAL + 1), bind.log_text())


@pytest.mark.parametrize("kind", sorted(PRIMARIES))
def test_primary_to_knot_secondary_then_ixfr(peers, kind):
    key = TsigKey.generate("xfr-key")
    primary = peers(PRIMARIES[kind], ORIGIN, ZONE_TEXT, key)
    secondary = peers(SECONDARIES["knot"], ORIGIN, [primary.target], key)
    primary.set_secondaries([secondary.target])
    secondary.wait_serial(SERIAL)
    assert zone_rrsets(secondary.axfr()) == zone_rrsets(zone_text_records(ZONE_TEXT, ORIGIN))
    new = updated(ZONE_TEXT)
    primary.update_zone(new)
    secondary.wait_serial(SERIAL + 1)
    assert zone_rrsets(secondary.axfr()) == zone_rrsets(zone_text_records(new, ORIGIN))
    assert "IXFR, incoming" in secondary.log_text()


@pytest.mark.parametrize("kind", sorted(SECONDARIES))
def test_wrong_key_gets_no_zone(peers, kind):
    key = TsigKey.generate("xfr-key")
    # Transfer allowed to all of loopback from the start: the first attempt of
    # the secondary fails on its key alone.
    primary = peers(KnotPrimary, ORIGIN, ZONE_TEXT, key, allow=[LOOPBACK_NET])
    wrong = peers(SECONDARIES[kind], ORIGIN, [primary.target], TsigKey.generate("xfr-key"))
    wait_until(lambda: wrong.xfr_failures() >= 1, XFR_BOUND_S,
               f"{kind} with the wrong key (same name, another secret) to report a failed transfer")
    assert wrong.serial() is None
    with pytest.raises(dns.exception.DNSException):
        wrong.axfr()
    # The control: the same kind with the right key gets the zone from it.
    right = peers(SECONDARIES[kind], ORIGIN, [primary.target], key)
    right.wait_serial(SERIAL)
    assert wrong.serial() is None
