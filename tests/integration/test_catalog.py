"""A catalog zone (RFC 9432) written by sovdns ("role": "catalog"): it lists every
other zone, keeps its serial while the list is unchanged, and real Knot ("catalog-role:
interpret") and BIND ("catalog-zones") consumers pick up a zone added to sovdns
without being configured for it (NOTIFY of the catalog, then a transfer of the new
member)."""

from __future__ import annotations

import hashlib
import json
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from conftest import start_or_fail, stop_and_check
from sovtest.paths import BOUND_S, ZONES_DIR
from sovtest.peers import XFR_BOUND_S, BindSecondary, KnotSecondary, TsigKey
from sovtest.servers import Sovdns

SMALL = """$ORIGIN {o}
$TTL 300
@ SOA ns.{o} h.{o} 1 3600 600 86400 300
@ NS ns.{o}
ns A 192.0.2.53
"""


def soa_serial(srv, origin):
    r = dns.query.udp(dns.message.make_query(origin, "SOA"), srv.addr, port=srv.port,
                      timeout=BOUND_S)
    return r.answer[0][0].serial if r.rcode() == dns.rcode.NOERROR and r.answer else None


def catalog_records(srv, key):
    out = set()
    for m in dns.query.xfr(srv.addr, "catalog.test.", port=srv.port,
                           keyring=key.dnspython_keyring(), keyname=key.name,
                           relativize=False, timeout=BOUND_S, lifetime=XFR_BOUND_S):
        for rrset in m.answer:
            for rd in rrset:
                out.add((rrset.name.to_text(), dns.rdatatype.to_text(rd.rdtype), rd.to_text()))
    return out


def member_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class KnotCatalogConsumer(KnotSecondary):
    """Knot as a secondary of the catalog zone that interprets it: every member
    becomes a zone of its own, transferred from the same primary."""

    def command(self) -> list:
        cmd = super().command()
        conf = self.workdir / "knot.conf"
        text = conf.read_text()
        zone_block = text[text.index("zone:\n"):]
        settings = zone_block.split("\n", 2)[2]  # the catalog zone's settings after "file:"
        member = "".join(line + "\n" for line in settings.splitlines()
                         if line.strip().startswith(("master:", "acl:")))
        text = text.replace("zone:\n", "  - id: member\n    storage: "
                            f"{self.workdir}/members\n    semantic-checks: off\n"
                            + member.replace("    ", "    ", 1) + "\nzone:\n", 1)
        text += "    catalog-role: interpret\n    catalog-template: member\n"
        conf.write_text(text)
        (self.workdir / "members").mkdir(exist_ok=True)
        return cmd

    def serves(self, origin):
        q = dns.message.make_query(origin, "SOA")
        try:
            r = dns.query.udp(q, self.addr, port=self.port, timeout=0.5)
        except (OSError, EOFError, dns.exception.DNSException):
            return False
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)


class BindCatalogConsumer(BindSecondary):
    """named as a secondary of the catalog zone with catalog-zones: every member
    becomes a zone of its own, transferred from the same primary."""

    def command(self) -> list:
        cmd = super().command()
        conf = self.workdir / "named.conf"
        text = conf.read_text()
        (a, p), = self.primaries
        cat = (f'    allow-new-zones yes;\n    catalog-zones {{ zone "{self.origin}" '
               f'default-primaries {{ {a} port {p} key "{self.key.name}"; }} '
               f'zone-directory "{self.workdir}" in-memory yes; }};\n')
        text = text.replace("    notify no;\n", "    notify no;\n" + cat, 1)
        conf.write_text(text)
        return cmd

    def serves(self, origin):
        return KnotCatalogConsumer.serves(self, origin)


@pytest.fixture
def key():
    return TsigKey.generate("xfr-key")


def write_conf(srv, tmp_path, key, zones, notify_to=None):
    allow = {"allow": [{"from": "127.0.0.0/8", "key": key.name}]}
    cat = {"origin": "catalog.test", "role": "catalog", "transfer": allow}
    if notify_to:
        cat["notify"] = {"ns": False, "also": [{"address": "%s:%d" % notify_to,
                                                "key": key.name}]}
    zs = [{"origin": o, "file": str(p), "transfer": allow,
           **({"notify": {"ns": False, "also": [{"address": "%s:%d" % notify_to,
                                                 "key": key.name}]}} if notify_to else {})}
          for o, p in zones]
    srv.config_extra["zones"] = zs + [cat]


@pytest.mark.parametrize("kind", ["knot", "bind"])
def test_catalog_lists_zones_and_consumer_follows(tmp_path, key, kind):
    kf = tmp_path / "xfr.key"
    kf.write_text(key.kdig_arg() + "\n")
    kf.chmod(0o600)
    zones = []
    for o in ("example.test", "one.test"):
        p = tmp_path / f"{o}.zone"
        p.write_text((ZONES_DIR / "example.test.zone").read_text() if o == "example.test"
                     else SMALL.format(o=o + "."))
        zones.append((o, p))
    srv = Sovdns(tmp_path / "sovdns", zones, config_mode=True,
                 config_extra={"tsig": {"keys": [{"file": str(kf)}]},
                               "state_dir": str(tmp_path / "state")})
    write_conf(srv, tmp_path, key, zones)
    start_or_fail(srv)
    knot = None
    try:
        got = catalog_records(srv, key)
        assert ("version.catalog.test.", "TXT", '"2"') in got
        for o in ("example.test.", "one.test."):
            assert (f"{member_id(o)}.zones.catalog.test.", "PTR", o) in got, got
        assert len([r for r in got if r[1] == "PTR"]) == 2
        serial = soa_serial(srv, "catalog.test.")
        # A reload with the same zones keeps the catalog's serial.
        reloads = srv.log_text().count("main: reload: generation")
        srv.reload()
        deadline = time.monotonic() + BOUND_S
        while srv.log_text().count("main: reload: generation") == reloads:
            assert time.monotonic() < deadline, srv.log_text()[-3000:]
            time.sleep(0.05)
        assert soa_serial(srv, "catalog.test.") == serial
        # Knot interprets the catalog: it serves both members.
        consumer = KnotCatalogConsumer if kind == "knot" else BindCatalogConsumer
        knot = consumer("catalog.test.", [srv.target], key, workdir=tmp_path / kind)
        start_or_fail(knot)
        deadline = time.monotonic() + XFR_BOUND_S
        while not (knot.serves("example.test.") and knot.serves("one.test.")):
            assert time.monotonic() < deadline, knot.log_text()[-3000:]
            time.sleep(0.1)
        # A new zone on sovdns: the catalog changes (new serial, NOTIFY), Knot adds it.
        p = tmp_path / "two.test.zone"
        p.write_text(SMALL.format(o="two.test."))
        zones.append(("two.test", p))
        write_conf(srv, tmp_path, key, zones, notify_to=knot.target)
        srv.command()
        srv.reload()
        deadline = time.monotonic() + XFR_BOUND_S
        while soa_serial(srv, "catalog.test.") == serial:
            assert time.monotonic() < deadline, srv.log_text()[-3000:]
            time.sleep(0.05)
        assert (soa_serial(srv, "catalog.test.") - serial) % 2**32 < 2**31  # newer
        while not knot.serves("two.test."):
            assert time.monotonic() < deadline, knot.log_text()[-3000:]
            time.sleep(0.1)
    finally:
        if knot:
            knot.stop()
        stop_and_check(srv)


def test_catalog_needs_a_place(tmp_path):
    import subprocess
    from sovtest.paths import default_sovdns_bin
    z = tmp_path / "a.zone"
    z.write_text(SMALL.format(o="a.test."))
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"listen": ["127.0.0.1:53"], "zones": [
        {"origin": "a.test", "file": str(z)}, {"origin": "catalog.test", "role": "catalog"}]}))
    r = subprocess.run([default_sovdns_bin(), "--check-config", conf], capture_output=True,
                       text=True, timeout=BOUND_S)
    assert r.returncode != 0 and "needs \"file\"" in r.stderr and f"{conf}:1:" in r.stderr, \
        r.stderr


def test_catalog_config_errors(tmp_path):
    """Two catalogs, or a catalog (or any zone) on another zone's file: refused at
    the entry, so a check or a start never overwrites a zone file."""
    import subprocess
    from sovtest.paths import default_sovdns_bin
    z = tmp_path / "a.zone"
    z.write_text(SMALL.format(o="a.test."))
    for zones, says in (
            ([{"origin": "a.test", "file": str(z)},
              {"origin": "catalog.test", "role": "catalog", "file": str(z)}],
             "is already the file of zone \"a.test\""),
            ([{"origin": "a.test", "file": str(z)},
              {"origin": "c1.test", "role": "catalog"}, {"origin": "c2.test", "role": "catalog"}],
             "is already the catalog")):
        conf = tmp_path / "c.json"
        conf.write_text(json.dumps({"listen": ["127.0.0.1:53"], "state_dir": str(tmp_path / "s"),
                                    "zones": zones}, indent=1))
        r = subprocess.run([default_sovdns_bin(), "--check-config", conf], capture_output=True,
                           text=True, timeout=BOUND_S)
        assert r.returncode != 0 and says in r.stderr, r.stderr
        assert z.read_text() == SMALL.format(o="a.test."), "the zone file was overwritten"


def test_check_config_writes_no_catalog(tmp_path):
    """--check-config and --explain read the configuration and write nothing: the
    catalog zone they check is rendered to a temporary file, the state_dir file is
    neither created nor changed (the daemon writes it at start)."""
    import os
    import subprocess
    from sovtest.paths import default_sovdns_bin
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # where a check renders the catalog
    z = tmp_path / "a.zone"
    z.write_text(SMALL.format(o="a.test."))
    cat = tmp_path / "s" / "zones" / "catalog.test.zone"
    conf = tmp_path / "c.json"

    def write(zones):
        conf.write_text(json.dumps({"listen": ["127.0.0.1:53"], "state_dir": str(tmp_path / "s"),
                                    "zones": [{"origin": "catalog.test", "role": "catalog"}]
                                    + zones}))
    write([{"origin": "a.test", "file": str(z)}])
    for args in (["--check-config", str(conf)],
                 ["--config", str(conf), "--explain", "a.test", "A", "192.0.2.1"]):
        r = subprocess.run([default_sovdns_bin(), *args], capture_output=True, text=True,
                           timeout=BOUND_S, env=env)
        assert not cat.exists(), f"{args[0]} wrote {cat}"
        assert args[0] != "--check-config" or r.returncode == 0, r.stderr
    # a catalog the daemon wrote earlier, then a zone added: the check reads it,
    # renders the new member list elsewhere and leaves the file as it was
    cat.parent.mkdir(parents=True)
    old = ("; members-sha256: 00\n$TTL 0\ncatalog.test. 0 IN SOA invalid. invalid. 7 3600 600 "
           "2147483646 0\ncatalog.test. 0 IN NS invalid.\nversion.catalog.test. 0 IN TXT \"2\"\n")
    cat.write_text(old)
    b = tmp_path / "b.zone"
    b.write_text(SMALL.format(o="b.test."))
    write([{"origin": "a.test", "file": str(z)}, {"origin": "b.test", "file": str(b)}])
    r = subprocess.run([default_sovdns_bin(), "--check-config", str(conf)], capture_output=True,
                       text=True, timeout=BOUND_S, env=env)
    assert r.returncode == 0, r.stderr
    assert cat.read_text() == old
    assert not list(tmp_path.glob("sovdns-catalog.*"))
