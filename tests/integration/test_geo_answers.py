"""Geo services through the real daemon (issue 3): which datacenter answers a
client, from its EDNS Client Subnet (RFC 7871) or its source address, with
which ECS scope and TTL; malformed ECS; failover/all; AAAA with an IPv4-only
datacenter; CNAME into a service; split horizon; 'nearest' by coordinates
from a .mmdb built here from a readable source; configuration errors; and a
SIGHUP reload that picks up a changed service and a replaced .mmdb.

The datacenters use documentation addresses; no probes run here (every
datacenter stays 'unknown', i.e. usable). Health is test_failover.py's.

Expected ECS scopes are the widest aligned network around the client whose
addresses all get the same preference order (docs/geo.md "ECS scope"); each
value below says how it follows from the map.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import KIND, TARGET, start_or_fail, stop_and_check
from sovtest.dnsclient import ecs_wire, query, raw_ecs_query
from sovtest.geo import (BLOG_CNAME_LINE, CITY_TXT, NEG_TTL, ORIGIN, STATIC_A_LINE, build_mmdb,
                         geo_server, rewrite_config, wait_log, write_zone)
from sovtest.wait import wait_timed
from sovtest.paths import default_sovdns_bin
from sovtest.servers import make_server

pytestmark = [
    pytest.mark.sovdns_only,
    pytest.mark.skipif(bool(TARGET), reason="starts its own sovdns (SOVDNS_TARGET is set)"),
]

WWW = f"www.{ORIGIN}"
PAY = f"pay.{ORIGIN}"
DB = f"db.{ORIGIN}"
ALL = f"all.{ORIGIN}"
APONLY = f"ap-only.{ORIGIN}"
TWO = f"two.{ORIGIN}"
PLAIN = f"plain.{ORIGIN}"
V4PAIR = f"v4pair.{ORIGIN}"
BLOG = f"blog.{ORIGIN}"
STATIC = f"static.{ORIGIN}"

EU_V4, EU_V6, EU_INTERNAL = ["192.0.2.10"], ["2001:db8:10::10"], ["10.1.0.10"]
US_V4, US_V6 = ["198.51.100.10", "198.51.100.11"], ["2001:db8:20::10"]
AP_V4 = ["203.0.113.10"]
SA_V4 = ["198.51.100.200"]

INSIDE_EU = "127.0.0.200"  # in dc-eu's internal network 127.0.0.192/26

DATACENTERS = [
    # Frankfurt, with an internal network (split horizon): IPv4 internal
    # address only, so IPv6 clients inside get the public IPv6 address.
    {"id": "dc-eu", "location": {"lat": 50.11, "lon": 8.68}, "ipv4": EU_V4, "ipv6": EU_V6,
     "regions": ["EU"],
     "internal": {"nets": ["10.1.0.0/16", "127.0.0.192/26", "::1/128"], "ipv4": EU_INTERNAL}},
    # New York, two IPv4 addresses (both are returned).
    {"id": "dc-us", "location": {"lat": 40.71, "lon": -74.01}, "ipv4": US_V4, "ipv6": US_V6,
     "regions": ["NA"]},
    # Singapore, IPv4 only.
    {"id": "dc-ap", "location": {"lat": 1.35, "lon": 103.82}, "ipv4": AP_V4, "regions": ["AP"]},
    # São Paulo, IPv4 only; only V4PAIR uses it.
    {"id": "dc-sa", "location": {"lat": -23.55, "lon": -46.63}, "ipv4": SA_V4},
]
SERVICES = [
    {"name": WWW, "policy": "nearest", "datacenters": ["dc-eu", "dc-us", "dc-ap"], "ttl": 45},
    {"name": PAY, "policy": "failover", "datacenters": ["dc-eu", "dc-us"], "ttl": 60},
    {"name": DB, "policy": "failover", "datacenters": ["dc-ap", "dc-us"], "ttl": 20},
    {"name": ALL, "policy": "all", "datacenters": ["dc-us", "dc-ap"], "ttl": 15},
    {"name": APONLY, "policy": "nearest", "datacenters": ["dc-ap"]},
    {"name": TWO, "policy": "nearest", "datacenters": ["dc-eu", "dc-us", "dc-ap"],
     "max_answers": 2},
    {"name": PLAIN, "datacenters": ["dc-eu", "dc-us"]},  # defaults: nearest, ttl 30
    # nearest over two IPv4-only datacenters: AAAA is NODATA for everyone
    {"name": V4PAIR, "policy": "nearest", "datacenters": ["dc-ap", "dc-sa"]},
]
GEO = {
    "nets": {
        "192.0.2.0/24": "dc-eu",
        "203.0.113.0/24": "dc-ap",
        "203.0.113.128/25": "dc-eu",
        "2001:db8:10::/48": "dc-eu",
        "2001:db8:30::/48": "dc-ap",
    },
    "default": "dc-us",
}


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    """sovdns with the datacenters, services and nets map above (no probes)."""
    if KIND != "sovdns" or TARGET:
        pytest.skip("sovdns only, started by the test")
    d = tmp_path_factory.mktemp("geo")
    srv = make_server("sovdns", d / "srv", [(ORIGIN, write_zone(d))], config_mode=True,
                      config_extra={"datacenters": DATACENTERS, "services": SERVICES,
                                    "geo": GEO}, ipv6=True)
    start_or_fail(srv)
    yield srv
    stop_and_check(srv)


def ask(srv, qname, qtype="A", **kw):
    return query(srv.target, qname, qtype, **kw)


# --------------------------------------------------------------------------
# nearest, from ECS and from the source address


@pytest.mark.parametrize("ecs,want,scope,why", [
    ("192.0.2.0/24", EU_V4, 24, "nets → dc-eu; 192.0.3.0/24 is the default (dc-us)"),
    ("192.0.2.77/32", EU_V4, 24, "the deciding network is the /24, narrower than /32"),
    ("198.51.100.0/24", US_V4, 6,
     "the default (dc-us) everywhere in 196.0.0.0/6; 192.0.0.0/5 holds 192.0.2.0/24"),
    ("203.0.113.0/25", AP_V4, 25, "the /24 → dc-ap but its upper /25 → dc-eu"),
    ("203.0.113.128/25", EU_V4, 25, "the more specific nets entry wins"),
    ("203.0.113.200/32", EU_V4, 25, "inside 203.0.113.128/25"),
    ("203.0.113.0/24", AP_V4, 24,
     "the answer for the network address, scope clamped to the source prefix"),
    ("100.64.0.0/10", US_V4, 4,
     "unmapped: the default in all of 96.0.0.0/4; 64.0.0.0/2 holds 127.0.0.192/26 (internal)"),
])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_nearest_ipv4_ecs(geo, ecs, want, scope, why, transport):
    r = ask(geo, WWW, "A", ecs=ecs, transport=transport)
    assert r.rcode == "NOERROR"
    assert r.addrs() == want, why
    addr, src, got_scope = r.ecs
    assert (addr, src) == tuple([ecs.split("/")[0], int(ecs.split("/")[1])]), "ECS not echoed"
    assert got_scope == scope, f"scope /{got_scope}, want /{scope}: {why}"
    assert r.msg.flags & 0x0400, "AA not set on a service answer"


@pytest.mark.parametrize("ecs,qtype,want,scope,why", [
    ("2001:db8:10::/56", "AAAA", EU_V6, 48, "nets /48 → dc-eu; 2001:db8:11::/48 is the default"),
    ("2001:db8:10::/48", "A", EU_V4, 48, "an IPv6 client gets A records too"),
    ("2001:db8:30::/48", "A", AP_V4, 48, "nets → dc-ap"),
    ("2001:db8:30::/48", "AAAA", EU_V6, 48,
     "dc-ap has no IPv6: the next by distance from Singapore is Frankfurt"),
    ("2001:db8:20::/48", "AAAA", US_V6, 44,
     "default; 2001:db8:20::/44 (0x20-0x2f) holds neither 2001:db8:10:: nor 2001:db8:30::"),
    ("2001:db8:30::/32", "A", US_V4, 32,
     "a /32 source: the answer for 2001:db8::, clamped to the source prefix"),
])
def test_nearest_ipv6_ecs(geo, ecs, qtype, want, scope, why):
    r = ask(geo, WWW, qtype, ecs=ecs)
    assert r.rcode == "NOERROR"
    assert r.addrs() == want, why
    assert r.ecs[1] == int(ecs.split("/")[1])
    assert r.scope == scope, why


def test_no_ecs_uses_the_source_address(geo):
    """From 127.0.0.1 (not in any map): the default, dc-us, both its addresses;
    with or without EDNS, and no ECS is reflected to a client that sent none."""
    for edns in (True, False):
        for transport in ("udp", "tcp"):
            r = ask(geo, WWW, "A", source="127.0.0.1", edns=edns, transport=transport)
            assert r.rcode == "NOERROR"
            assert sorted(r.addrs()) == US_V4
            assert r.ecs is None, "ECS in a reply to a query without ECS"
            assert r.ttl == 45
    r = ask(geo, WWW, "AAAA", source="127.0.0.1")
    assert r.addrs() == US_V6 and r.ecs is None


@pytest.mark.parametrize("ecs", ["0.0.0.0/0", "::/0"])
def test_ecs_source_prefix_zero_is_unknown_location(geo, ecs):
    """RFC 7871 §7.1.2: do not use my location → the default, scope 0. Even from
    inside a datacenter's internal network: an unknown client is never inside."""
    for source in ("127.0.0.1", INSIDE_EU):
        r = ask(geo, WWW, "A", ecs=ecs, source=source)
        assert r.rcode == "NOERROR"
        assert sorted(r.addrs()) == US_V4
        assert r.ecs == (ecs.split("/")[0], 0, 0)


# --------------------------------------------------------------------------
# malformed ECS → FORMERR (RFC 7871 §6, §7.1.1, §7.2.1)

MALFORMED_ECS = {
    "family 3": ecs_wire(3, 24, 0, bytes([192, 0, 2])),
    "family 0": ecs_wire(0, 0, 0, b""),
    "v4 source prefix 33": ecs_wire(1, 33, 0, bytes([192, 0, 2, 0, 0])),
    "v6 source prefix 129": ecs_wire(2, 129, 0, bytes(17)),
    "v4 /24 with 4 address octets": ecs_wire(1, 24, 0, bytes([192, 0, 2, 0])),
    "v4 /24 with 2 address octets": ecs_wire(1, 24, 0, bytes([192, 0])),
    "v4 /0 with an address octet": ecs_wire(1, 0, 0, bytes([0])),
    "v6 /48 with 5 address octets": ecs_wire(2, 48, 0, bytes.fromhex("20010db800")),
    "v4 /23 with bit 24 set": ecs_wire(1, 23, 0, bytes([192, 0, 3])),
    "v6 /47 with bit 48 set": ecs_wire(2, 47, 0, bytes.fromhex("20010db80031")),
    "v4 non-zero scope in a query": ecs_wire(1, 24, 24, bytes([192, 0, 2])),
    "v6 non-zero scope in a query": ecs_wire(2, 48, 1, bytes.fromhex("20010db80030")),
    "shorter than the fixed part": bytes([0, 1, 24]),
}


@pytest.mark.parametrize("case", MALFORMED_ECS, ids=list(MALFORMED_ECS))
@pytest.mark.parametrize("qname", [WWW, STATIC])
def test_malformed_ecs_is_formerr(geo, case, qname):
    for transport in ("udp", "tcp"):
        wire = raw_ecs_query(geo.target, qname, MALFORMED_ECS[case], transport)
        assert len(wire) >= 12
        rcode = wire[3] & 0x0F
        assert rcode == 1, f"{case} over {transport}: rcode {rcode}, want FORMERR (1)"
        ancount = int.from_bytes(wire[6:8], "big")
        assert ancount == 0, "an answer in a FORMERR reply"


def test_well_formed_edge_cases_are_accepted(geo):
    """The boundaries of the checks above: /32 and /128 sources, a /23 with the
    last bit clear, a /0 without address octets."""
    for ecs, want in [("192.0.2.7/32", EU_V4), ("2001:db8:30::1/128", AP_V4),
                      ("192.0.2.0/23", EU_V4), ("0.0.0.0/0", US_V4)]:
        r = ask(geo, WWW, "A", ecs=ecs)
        assert r.rcode == "NOERROR", ecs
        assert sorted(r.addrs()) == want, ecs


# --------------------------------------------------------------------------
# failover, all, AAAA with an IPv4-only datacenter, max_answers, TTLs


@pytest.mark.parametrize("ecs", [None, "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                 "2001:db8:10::/48"])
def test_failover_names_the_first_in_order_with_scope_zero(geo, ecs):
    """db: failover [dc-ap, dc-us]: dc-ap wherever the client is; scope 0 (the
    answer does not depend on location; no datacenter of it has internal nets)."""
    r = ask(geo, DB, "A", ecs=ecs)
    assert r.addrs() == AP_V4 and r.ttl == 20
    if ecs:
        assert r.scope == 0
    # AAAA: dc-ap has no IPv6 address, so the next in order
    r = ask(geo, DB, "AAAA", ecs=ecs)
    assert r.addrs() == US_V6
    if ecs:
        assert r.scope == 0


def test_all_names_every_usable_datacenter(geo):
    for ecs in (None, "192.0.2.0/24", "2001:db8:30::/48"):
        r = ask(geo, ALL, "A", ecs=ecs)
        assert r.addrs() == US_V4 + AP_V4, "every datacenter, in the service's order"
        assert r.ttl == 15
        if ecs:
            assert r.scope == 0
        # AAAA: only dc-us has IPv6
        r = ask(geo, ALL, "AAAA", ecs=ecs)
        assert r.addrs() == US_V6


def test_aaaa_with_an_ipv4_only_datacenter(geo):
    # nearest: an Asia-Pacific client's AAAA comes from the next nearest with IPv6
    r = ask(geo, WWW, "AAAA", ecs="203.0.113.0/25")
    assert r.addrs() == EU_V6 and r.scope == 25
    # a service whose only datacenter is IPv4-only: NODATA with the SOA, not an error
    r = ask(geo, APONLY, "AAAA", ecs="203.0.113.0/25")
    assert r.nodata_soa, r
    soa = [rr for rr in r.msg.authority][0]
    assert soa.ttl == NEG_TTL
    r = ask(geo, APONLY, "A", ecs="192.0.2.0/24")
    assert r.addrs() == AP_V4
    assert r.scope == 0, "a single-datacenter service does not depend on location"
    assert r.ttl == 30, "default service TTL"


@pytest.mark.parametrize("ecs", ["203.0.113.0/25", "192.0.2.0/24", "2001:db8:30::/48"])
def test_negative_service_answer_has_scope_zero(geo, ecs):
    """RFC 7871 §7.4: a negative answer does not depend on the client. V4PAIR's
    A is chosen by location; its AAAA (no datacenter has IPv6) is NODATA,
    the same for every client: scope 0."""
    r = ask(geo, V4PAIR, "A", ecs=ecs)
    assert r.rcode == "NOERROR" and r.addrs(), r
    r = ask(geo, V4PAIR, "AAAA", ecs=ecs)
    assert r.nodata_soa, r
    assert r.ecs is not None and r.scope == 0, f"NODATA with scope /{r.scope}"


def test_max_answers(geo):
    r = ask(geo, TWO, "A", ecs="203.0.113.0/25")
    assert r.addrs() == AP_V4 + EU_V4, "the two nearest, nearest first"
    r = ask(geo, TWO, "A", ecs="192.0.2.0/24")
    assert r.addrs() == EU_V4 + US_V4


def test_ttls(geo):
    assert ask(geo, WWW, "A", ecs="192.0.2.0/24").ttl == 45
    assert ask(geo, WWW, "AAAA", ecs="192.0.2.0/24").ttl == 45
    assert ask(geo, PAY, "A").ttl == 60
    assert ask(geo, PLAIN, "A").ttl == 30
    assert ask(geo, STATIC, "A").ttl == 3600


def test_other_types_at_a_service_name(geo):
    """A service name is a node of its zone: TXT from the zone file; MX NODATA;
    ANY over UDP gives the A records (RFC 8482), over TCP A, AAAA and TXT."""
    r = ask(geo, WWW, "TXT", ecs="192.0.2.0/24")
    assert r.rcode == "NOERROR" and r.msg.answer[0].ttl == 3600
    assert r.scope == 0, "static data: scope 0"
    assert ask(geo, WWW, "MX").nodata_soa
    assert ask(geo, PAY, "TXT").nodata_soa, "a service name without other data: NODATA"
    r = ask(geo, WWW, "ANY", ecs="192.0.2.0/24", transport="udp")
    assert r.addrs() == EU_V4
    r = ask(geo, WWW, "ANY", ecs="192.0.2.0/24", transport="tcp")
    assert set(r.addrs()) == set(EU_V4 + EU_V6)
    assert any(rr.rdtype == 16 for rr in r.msg.answer)
    # a name below a service does not exist
    assert ask(geo, f"x.{WWW}", "A").rcode == "NXDOMAIN"


def test_static_names_scope_zero(geo):
    r = ask(geo, STATIC, "A", ecs="192.0.2.0/24")
    assert r.addrs() == ["192.0.2.99"] and r.ecs == ("192.0.2.0", 24, 0)


# --------------------------------------------------------------------------
# CNAME → service


@pytest.mark.parametrize("ecs,want,scope", [
    ("192.0.2.0/24", EU_V4, 24), ("203.0.113.0/25", AP_V4, 25), (None, US_V4, None)])
def test_cname_to_a_service(geo, ecs, want, scope):
    r = ask(geo, BLOG, "A", ecs=ecs, source="127.0.0.1")
    assert r.rcode == "NOERROR"
    names = [(rr.name.to_text(), rr.rdtype) for rr in r.msg.answer]
    assert names == [(BLOG + ".", 5), (WWW + ".", 1)], names
    assert r.msg.answer[0].ttl == 3600
    assert sorted(r.addrs()) == want and r.ttl == 45
    assert (r.ecs[2] if r.ecs else None) == scope


def test_cname_to_a_service_aaaa_nodata(geo):
    """AAAA through the CNAME for a client whose choice has IPv6 works too."""
    r = ask(geo, BLOG, "AAAA", ecs="203.0.113.0/25")
    assert [rr.rdtype for rr in r.msg.answer] == [5, 28]
    assert r.addrs() == EU_V6


# --------------------------------------------------------------------------
# split horizon


def test_split_horizon_from_the_source_address(geo):
    """A host inside dc-eu's internal network (source 127.0.0.200) gets dc-eu's
    internal IPv4 address; IPv6 (no internal v6 address) the public one."""
    r = ask(geo, WWW, "A", source=INSIDE_EU)
    assert r.addrs() == EU_INTERNAL and r.ecs is None
    r = ask(geo, WWW, "AAAA", source=INSIDE_EU)
    assert r.addrs() == EU_V6
    # failover [dc-eu, dc-us]: dc-eu is chosen anyway, with its internal address
    assert ask(geo, PAY, "A", source=INSIDE_EU).addrs() == EU_INTERNAL
    # a service that does not use dc-eu: public addresses as for anyone
    assert ask(geo, DB, "A", source=INSIDE_EU).addrs() == AP_V4
    # outside: the public addresses
    assert ask(geo, PAY, "A", source="127.0.0.1").addrs() == EU_V4


def test_split_horizon_for_an_ipv6_client(geo):
    """::1 is in dc-eu's internal networks: over IPv6 transport, A gets the
    internal IPv4 address, AAAA the public IPv6 one (no internal IPv6)."""
    if not geo.ipv6:
        pytest.skip("no IPv6 loopback")
    six = ("::1", geo.port)
    assert query(six, WWW, "A").addrs() == EU_INTERNAL
    assert query(six, WWW, "AAAA").addrs() == EU_V6
    assert query(six, DB, "A").addrs() == AP_V4
    # with an ECS from elsewhere, the ECS decides
    assert query(six, WWW, "A", ecs="203.0.113.0/25").addrs() == AP_V4


def test_split_horizon_from_ecs(geo):
    r = ask(geo, WWW, "A", ecs="10.1.5.0/24")
    assert r.addrs() == EU_INTERNAL and r.scope == 16
    r = ask(geo, PAY, "A", ecs="10.1.5.0/24")
    assert r.addrs() == EU_INTERNAL and r.scope == 16
    # failover with an internal network: the scope says how far "outside"
    # reaches (the internal nets are all in 0.0.0.0/1)
    r = ask(geo, PAY, "A", ecs="198.51.100.0/24")
    assert r.addrs() == EU_V4 and r.scope == 1
    # ECS wins over the source address: a resolver inside dc-eu asking for an
    # outside client gets the outside answer
    r = ask(geo, WWW, "A", ecs="203.0.113.0/25", source=INSIDE_EU)
    assert r.addrs() == AP_V4


# --------------------------------------------------------------------------
# nearest by coordinates from .mmdb files built from tests/unit/geo/*.txt

MMDB_DCS = [
    {"id": "dc-east", "location": {"lat": 40.7, "lon": -74.0}, "ipv4": ["192.0.2.10"],
     "ipv6": ["2001:db8:e::10"], "regions": ["NA"]},
    {"id": "dc-west", "location": {"lat": 50.1, "lon": 8.7}, "ipv4": ["198.51.100.10"],
     "ipv6": ["2001:db8:a::10"], "regions": ["EU"]},
    {"id": "dc-asia", "location": {"lat": 1.35, "lon": 103.8}, "ipv4": ["203.0.113.10"],
     "regions": ["AS", "OC"]},
]
EAST, WEST, ASIA = ["192.0.2.10"], ["198.51.100.10"], ["203.0.113.10"]
WEST6, EAST6 = ["2001:db8:a::10"], ["2001:db8:e::10"]


@pytest.fixture(scope="module")
def mmdbs(tmp_path_factory):
    """The test databases, built once: tests/unit/geo/city.txt (IPv6 City, with
    coordinates) and country4.txt (IPv4 Country, continent/country codes only)."""
    d = tmp_path_factory.mktemp("mmdb")
    return (build_mmdb(CITY_TXT, d / "city.mmdb"),
            build_mmdb(CITY_TXT.with_name("country4.txt"), d / "country4.mmdb"))


@pytest.fixture
def mmdb_server(spawn, tmp_path, mmdbs):
    """sovdns with [city, country4] as its databases (the City one copied, so a
    test may replace it) and one nets entry over them."""
    db = tmp_path / "city.mmdb"
    shutil.copyfile(mmdbs[0], db)
    country = mmdbs[1]
    srv = geo_server(spawn, write_zone(tmp_path), datacenters=MMDB_DCS, services=[
        {"name": WWW, "policy": "nearest", "datacenters": ["dc-east", "dc-west", "dc-asia"],
         "ttl": 30}],
        geo={"databases": [str(db), str(country)], "nets": {"198.51.100.128/25": "dc-asia"}})
    return srv, db


MMDB_CASES = [
    # ECS, qtype, answer, scope, why (city.txt)
    ("192.0.2.0/25", "A", EAST, 25, "New York; 192.0.2.192/26 is absent"),
    ("192.0.2.128/26", "A", EAST, 26, "San Francisco: nearest is New York"),
    ("192.0.2.0/24", "A", EAST, 24, "the network address is New York; clamped"),
    ("198.51.100.0/25", "A", WEST, 25, "Frankfurt; the nets map sends the upper /25 elsewhere"),
    ("198.51.100.128/25", "A", ASIA, 25, "Paris, but the nets map wins over the database"),
    ("203.0.113.0/25", "A", ASIA, 25, "Tokyo: Singapore is nearest"),
    ("203.0.113.0/25", "AAAA", WEST6, 25, "Tokyo, IPv6: Frankfurt (9350 km) before NY"),
    ("203.0.113.128/26", "A", ASIA, 26, "AU, no coordinates: continent OC → dc-asia's tag"),
    ("203.0.113.192/27", "A", WEST, 27, "GB, no coordinates: continent EU → dc-west's tag"),
    ("192.0.2.192/26", "A", WEST, 26,
     "absent from the City db; the second db (IPv4 Country) says DE/EU → dc-west's tag"),
    ("203.0.113.224/27", "A", ASIA, 27, "absent from the City db; the Country db says JP/AS"),
    ("2001:db8:1::/48", "A", WEST, 48, "Paris over IPv6"),
    ("2001:db8:2::/48", "A", ASIA, 48, "Singapore"),
    ("2001:db8:2::/48", "AAAA", WEST6, 48, "Singapore, IPv6: dc-asia has none"),
    ("2001:db8:3::/56", "AAAA", EAST6, 48, "New York"),
    ("2001:db8:5::/48", "A", EAST, 46,
     "a record with nothing usable counts as absent, the Country db is IPv4-only: unknown → "
     "the service's order; 2001:db8:4::/46 is all unknown"),
    ("100.64.0.0/10", "A", EAST, None, "absent: the service's order"),
]


def test_nearest_by_coordinates_from_a_mmdb(mmdb_server):
    srv, _ = mmdb_server
    failures = []
    for ecs, qtype, want, scope, why in MMDB_CASES:
        r = query(srv.target, WWW, qtype, ecs=ecs)
        got = (r.rcode, r.addrs(), r.scope if scope is not None else None)
        if got != ("NOERROR", want, scope):
            failures.append(f"{ecs} {qtype}: got {got}, want {('NOERROR', want, scope)} ({why})")
    assert not failures, "\n".join(failures)


def test_reload_picks_up_a_replaced_mmdb_and_a_changed_service(mmdb_server, tmp_path):
    srv, db = mmdb_server
    tokyo = "203.0.113.0/25"
    assert query(srv.target, WWW, "A", ecs=tokyo).addrs() == ASIA
    assert query(srv.target, f"api.{ORIGIN}", "A").rcode == "NXDOMAIN"
    # Tokyo's network moves to New York; written aside and renamed over the old file
    src = tmp_path / "city2.txt"
    src.write_text(re.sub(r"(?m)^(203\.0\.113\.0/25\s+)AS\s+JP\s+-\s+35\.68\s+139\.69",
                          r"\1NA   US  -      40.71    -74.01 ", CITY_TXT.read_text()))
    assert src.read_text() != CITY_TXT.read_text(), "test bug: city.txt changed"
    build_mmdb(src, tmp_path / "city2.mmdb").replace(db)

    def change(conf):
        conf["services"][0]["ttl"] = 40
        conf["services"].append({"name": f"api.{ORIGIN}", "policy": "failover",
                                 "datacenters": ["dc-west", "dc-east"]})
    rewrite_config(srv, change)
    offset = len(srv.log_text())
    srv.reload()
    r, _ = wait_timed(lambda: (lambda r: r if r.addrs() == EAST else None)(
        query(srv.target, WWW, "A", ecs=tokyo)), 10, "Tokyo answered from dc-east")
    assert r.ttl == 40 and r.scope == 25
    assert query(srv.target, f"api.{ORIGIN}", "A").addrs() == WEST
    assert "reload: generation 2" in srv.log_text()[offset:]
    # the rest of the database is unchanged
    assert query(srv.target, WWW, "A", ecs="198.51.100.0/25").addrs() == WEST


def test_reload_with_an_unknown_datacenter_keeps_serving(mmdb_server):
    srv, _ = mmdb_server
    rewrite_config(srv, lambda c: c["services"][0]["datacenters"].append("dc-nowhere"))
    offset = len(srv.log_text())
    srv.reload()
    wait_timed(lambda: "reload refused" in srv.log_text()[offset:], 10, "reload refused")
    assert 'unknown datacenter "dc-nowhere"' in srv.log_text()[offset:]
    assert query(srv.target, WWW, "A", ecs="203.0.113.0/25").addrs() == ASIA


# --------------------------------------------------------------------------
# configuration errors (--check-config): file:line:column


def position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of needle in text."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


def check_config(tmp_path, services, zone_text=None, datacenters=DATACENTERS):
    zone = write_zone(tmp_path, zone_text) if zone_text else write_zone(tmp_path)
    cfg = {"listen": ["127.0.0.1:5399"], "zones": [{"origin": ORIGIN, "file": str(zone)}],
           "datacenters": datacenters, "services": services}
    path = tmp_path / "sovdns.json"
    text = json.dumps(cfg, indent=2) + "\n"
    path.write_text(text)
    r = subprocess.run([str(default_sovdns_bin()), "--check-config", str(path)],
                       capture_output=True, text=True, timeout=30)
    return r, path, text, zone


def test_check_config_accepts_the_test_config(tmp_path):
    r, _, _, _ = check_config(tmp_path, SERVICES)
    assert r.returncode == 0, r.stderr
    assert "configuration ok" in r.stdout


def test_check_config_service_with_static_records(tmp_path):
    svcs = [{"name": STATIC, "datacenters": ["dc-eu"]}, {"name": BLOG, "datacenters": ["dc-us"]}]
    r, _, _, zone = check_config(tmp_path, svcs)
    assert r.returncode == 1
    for line, rtype, name in [(STATIC_A_LINE, "A", STATIC), (BLOG_CNAME_LINE, "CNAME", BLOG)]:
        pat = re.compile(rf"^{re.escape(str(zone))}:{line}:\d+: {re.escape(name)}\.? is a service "
                         rf"in the configuration \(its A/AAAA answers are chosen per query\): "
                         rf"a static {rtype} record cannot stand there", re.M)
        assert pat.search(r.stderr), f"no {rtype} error at line {line}:\n{r.stderr}"
    # static AAAA at static.geo.test is reported too
    assert re.search(rf":{STATIC_A_LINE + 1}:\d+: .*a static AAAA record", r.stderr), r.stderr


def test_check_config_service_outside_any_zone(tmp_path):
    svcs = SERVICES[:1] + [{"name": "www.elsewhere.test", "datacenters": ["dc-eu"]}]
    r, path, text, _ = check_config(tmp_path, svcs)
    assert r.returncode == 1
    # the position of the service's object: the "{" before its name
    name_line, _ = position(text, '"www.elsewhere.test"')
    lines = text.splitlines()
    obj_line = max(i + 1 for i in range(name_line) if lines[i].strip().startswith("{"))
    obj_col = lines[obj_line - 1].index("{") + 1
    want = (f"{path}:{obj_line}:{obj_col}: service www.elsewhere.test is not inside any zone "
            "this server serves")
    assert want in r.stderr, r.stderr


def test_check_config_unknown_datacenter(tmp_path):
    svcs = [{"name": WWW, "datacenters": ["dc-eu", "dc-zz"]},
            {"name": PAY, "policy": "failover", "datacenters": ["dc-qq"]}]
    r, path, text, _ = check_config(tmp_path, svcs)
    assert r.returncode == 1
    for dc in ("dc-zz", "dc-qq"):
        line, col = position(text, f'"{dc}"')
        pat = re.compile(rf"^{re.escape(str(path))}:{line}:{col}: .*unknown datacenter "
                         rf'"{dc}"', re.M)
        assert pat.search(r.stderr), f"{dc} at {line}:{col} not reported:\n{r.stderr}"


def test_reload_with_a_garbage_mmdb_keeps_serving(mmdb_server):
    """Issue 8: the .mmdb replaced by garbage → reload refused (logged with the
    file), the old database keeps answering."""
    srv, db = mmdb_server
    tokyo = "203.0.113.0/25"
    assert query(srv.target, WWW, "A", ecs=tokyo).addrs() == ASIA
    tmp = db.with_suffix(".tmp")
    tmp.write_bytes(b"this is not a MaxMind database\n" * 100)
    os.replace(tmp, db)
    offset = len(srv.log_text())
    srv.reload()
    wait_log(srv, "reload refused", offset=offset)
    assert str(db) in srv.log_text()[offset:], srv.log_text()[offset:]
    for _ in range(20):
        assert query(srv.target, WWW, "A", ecs=tokyo).addrs() == ASIA
