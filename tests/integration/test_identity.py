"""Which server answered (issue 16): NSID (RFC 5001) and the CH TXT names
id.server (RFC 4892), hostname.bind and version.bind, through the real daemon
with real clients (dig, kdig, dnspython). Defaults: the host name as identity,
NSID and all three names on; "identity" in the configuration changes each
(docs/configuration.md)."""

from __future__ import annotations

import socket
import subprocess

import dns.edns
import dns.message
import dns.query
import dns.rdataclass
import dns.rcode
import pytest

from conftest import KIND, TARGET
from sovtest.dnsclient import make_query
from sovtest.paths import default_sovdns_bin

pytestmark = [
    pytest.mark.sovdns_only,
    pytest.mark.skipif(bool(TARGET) or KIND != "sovdns", reason="starts its own sovdns"),
]


def dig(srv, *args):
    host, port = srv.target
    out = subprocess.run(["dig", f"@{host}", "-p", str(port), "+norec", "+tries=3", "+time=5",
                          *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def chaos(srv, name, qtype="TXT", transport="udp"):
    q = dns.message.make_query(name, qtype, rdclass=dns.rdataclass.CH)
    host, port = srv.target
    fn = dns.query.udp if transport == "udp" else dns.query.tcp
    return fn(q, host, port=port, timeout=5)


def nsid_of(srv, **kw):
    q = make_query("www.example.test", "A", edns=0,
                   options=[dns.edns.GenericOption(dns.edns.NSID, b"")], **kw)
    host, port = srv.target
    r = dns.query.udp(q, host, port=port, timeout=5)
    got = [o for o in r.options if o.otype == dns.edns.NSID]
    return r, (got[0].to_wire() if got else None)


def txt(r):
    assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())
    assert len(r.answer) == 1
    rr = r.answer[0]
    assert rr.rdclass == dns.rdataclass.CH and rr.ttl == 0
    return b"".join(next(iter(rr)).strings).decode()


def sovdns_version():
    out = subprocess.run([str(default_sovdns_bin()), "--version"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip()


def test_defaults_identity_is_the_host_name(spawn):
    srv = spawn(config_mode=True)
    host = socket.gethostname() or "sovdns"
    r, nsid = nsid_of(srv)
    assert r.rcode() == dns.rcode.NOERROR and nsid == host.encode()
    for name in ("id.server", "hostname.bind"):
        for transport in ("udp", "tcp"):
            assert txt(chaos(srv, name, transport=transport)) == host
    assert txt(chaos(srv, "version.bind")) == sovdns_version()
    # a query that did not ask for NSID does not get it
    q = make_query("www.example.test", "A", edns=0)
    r = dns.query.udp(q, *srv.target[:1], port=srv.target[1], timeout=5)
    assert all(o.otype != dns.edns.NSID for o in r.options)
    # other CH names: REFUSED, as before
    assert chaos(srv, "authors.bind").rcode() == dns.rcode.REFUSED
    # real clients
    out = dig(srv, "+nsid", "www.example.test", "A")
    assert "NSID:" in out and f'("{host}")' in out, out
    out = dig(srv, "CH", "TXT", "id.server")
    assert f'"{host}"' in out, out
    host_, port = srv.target
    out = subprocess.run(["kdig", f"@{host_}", "-p", str(port), "+norec", "-c", "CH",
                          "version.bind", "TXT"], capture_output=True, text=True, timeout=60)
    assert f'"{sovdns_version()}"' in out.stdout, out.stdout + out.stderr


def test_configured_identity_and_each_switch(spawn):
    srv = spawn(config_mode=True, config_extra={"identity": {
        "name": "ns-fra-1", "version": "hidden", "nsid": False,
        "chaos": ["hostname.bind", "version.bind"]}})
    r, nsid = nsid_of(srv)
    assert r.rcode() == dns.rcode.NOERROR and nsid is None, "NSID sent although turned off"
    assert "NSID:" not in dig(srv, "+nsid", "www.example.test", "A")
    assert chaos(srv, "id.server").rcode() == dns.rcode.REFUSED, "id.server turned off"
    assert txt(chaos(srv, "hostname.bind")) == "ns-fra-1"
    assert txt(chaos(srv, "version.bind")) == "hidden"

    srv2 = spawn(name="on", config_mode=True,
                 config_extra={"identity": {"name": "ns-fra-2", "chaos": []}})
    r, nsid = nsid_of(srv2)
    assert nsid == b"ns-fra-2"
    assert 'NSID: ' in dig(srv2, "+nsid", "www.example.test", "A")
    for name in ("id.server", "hostname.bind", "version.bind"):
        assert chaos(srv2, name).rcode() == dns.rcode.REFUSED, name
