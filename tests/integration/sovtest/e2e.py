"""Harness for the end-to-end API tests (test_api_dns.py): the REAL sovdns
daemon, serving DNS and its HTTP API, with stand-in datacenters on loopback.

  Daemon   one sovdns process (daemon.ApiDaemon): its config, zones (copies
           of conf/demo/*.zone), token files (0600), state_dir; the API on
           port 0 (read from the log), the DNS port picked
  ask()    a DNS query with dnspython, optionally with an ECS option
Sites are sites.Site (probe_servers.py http on 127.0.0.x, in their own process).

Environment: SOVDNS_BIN, the binary (default paths.SOVDNS_BIN_DEFAULT).
Every wait is bounded; processes are ended by the PID we started.
No tests here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dns.edns
import dns.query
import dns.rcode
import dns.rdatatype

from .daemon import ApiDaemon
from .dnsclient import make_query
from .paths import DEMO_DIR
from .ports import closed_port

# Token secrets (each in its own 0600 file).
TOKENS = {
    "ops": ("admin", "ops-secret-e2e-0123456789abcdef"),
    "viewer": ("read", "viewer-secret-e2e-0123456789abcd"),
    "deploy-a": ("drain:dc-a", "deploy-a-secret-e2e-0123456789ab"),
}

# Three sites. Addresses are documentation ones; each site's /24 is mapped to
# it in geo.nets so an ECS option picks the nearest site; unknown clients
# (127.0.0.1, the source of the tests' queries) go to dc-a.
DCS = {
    "dc-a": {"ipv4": "192.0.2.10", "ipv6": "2001:db8:a::10", "net": "192.0.2.0/24",
             "lat": 50.11, "lon": 8.68, "client": "192.0.2.7"},
    "dc-b": {"ipv4": "198.51.100.10", "ipv6": "2001:db8:b::10", "net": "198.51.100.0/24",
             "lat": 40.71, "lon": -74.01, "client": "198.51.100.7"},
    "dc-c": {"ipv4": "203.0.113.10", "ipv6": None, "net": "203.0.113.0/24",
             "lat": 1.35, "lon": 103.82, "client": "203.0.113.7"},
}
ADDR_DC = {}
for _id, _d in DCS.items():
    ADDR_DC[_d["ipv4"]] = _id
    if _d["ipv6"]:
        ADDR_DC[_d["ipv6"]] = _id

TTL = 2  # service TTL: drains wait TTL + max(margin 0, ceil(TTL/10)) = 3 s
PROBE = {"interval_ms": 250, "timeout_ms": 250, "jitter_ms": 0, "rise": 1, "fall": 2}


class Daemon(ApiDaemon):
    """One sovdns process with DNS and the API on loopback (daemon.ApiDaemon)
    in the layout above.

    health: {dc: Site or None}; None gives the datacenter a probe target
    where nothing listens (it is down from the first probe round on)."""

    default_reason = "e2e drain"

    def __init__(self, workdir: Path, health: dict, *, services=None, api_extra=None,
                 conf_extra=None):
        workdir = Path(workdir)
        self.zone_dir = workdir / "zones"
        self.zone_dir.mkdir(parents=True, exist_ok=True)
        for z in ("example.test.zone", "lab.example.test.zone"):
            shutil.copy(DEMO_DIR / z, self.zone_dir / z)
        targets = {}
        for dc, site in health.items():
            targets[dc] = site.target if site else f"127.0.0.1:{closed_port()}"
        dcs = []
        for dc, d in DCS.items():
            e = {"id": dc, "location": {"lat": d["lat"], "lon": d["lon"]}, "ipv4": [d["ipv4"]]}
            if d["ipv6"]:
                e["ipv6"] = [d["ipv6"]]
            dcs.append(e)
        conf = {
            "threads": 2,
            "log": {"level": "info"},
            "zones": [{"origin": "example.test", "file": "zones/example.test.zone"},
                      {"origin": "lab.example.test", "file": "zones/lab.example.test.zone"}],
            "datacenters": dcs,
            "services": services if services is not None else [
                {"name": "www.example.test", "policy": "nearest",
                 "datacenters": list(DCS), "ttl": TTL},
                {"name": "pay.example.test", "policy": "failover",
                 "datacenters": ["dc-a", "dc-b"], "ttl": TTL, "on_all_down": "empty"},
            ],
            "geo": {"nets": {d["net"]: dc for dc, d in DCS.items()}, "default": "dc-a"},
            "probes": {"defaults": dict(PROBE),
                       "checks": [{"name": "web", "type": "http", "path": "/health",
                                   "body_contains": "OK", "targets": targets}]},
            "api": {"drain_margin_s": 0, "timeout_s": 5, **(api_extra or {})},
        }
        conf.update(conf_extra or {})
        super().__init__(workdir, conf, tokens=TOKENS)

    def maintenance(self, dc, on, token="ops", **body):
        if on:
            body.setdefault("reason", "e2e maintenance")
        return super().maintenance(dc, on, token=token, **body)

    def api_answer(self, client, service="www.example.test") -> dict:
        return super().api_answer(client, service)

    # -- DNS -------------------------------------------------------------
    def ask(self, qname, qtype="A", client=None, prefix=None, tcp=False, timeout=2.0):
        return ask(self.target, qname, qtype, client=client, prefix=prefix, tcp=tcp,
                   timeout=timeout)

    def answer_dcs(self, qname="www.example.test", client=None) -> set:
        """The datacenters named by the A (and AAAA) answers for client."""
        found = set()
        for t in ("A", "AAAA"):
            r = self.ask(qname, t, client=client)
            assert r.rcode() == dns.rcode.NOERROR, f"{qname} {t}: {dns.rcode.to_text(r.rcode())}"
            found |= {ADDR_DC[a] for a in addresses(r)}
        return found


def ask(target, qname, qtype="A", client=None, prefix=None, tcp=False, timeout=2.0):
    """One query to target (addr, port); client adds an ECS option for it
    (prefix: 32/128 by default). Raises dns.exception.Timeout on no reply."""
    opts = []
    if client is not None:
        fam_bits = 128 if ":" in client else 32
        opts.append(dns.edns.ECSOption(client, prefix if prefix is not None else fam_bits))
    q = make_query(qname, qtype, edns=0, options=opts)
    send = dns.query.tcp if tcp else dns.query.udp
    r = send(q, target[0], port=target[1], timeout=timeout)
    assert r.id == q.id
    return r


def addresses(r) -> list:
    """The A/AAAA addresses in the answer section, in order."""
    out = []
    for rrset in r.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out += [rd.address for rd in rrset]
    return out


def answer_ttls(r) -> set:
    return {rrset.ttl for rrset in r.answer
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)}


def ecs_scope(r):
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            return o.scopelen
    return None
